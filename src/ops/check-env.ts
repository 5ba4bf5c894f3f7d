import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import { isTeampassWsError } from '../errors.js';
import { SettingsRepository } from '../db/misc.js';
import { skipped, type CheckDef } from './check-types.js';
import { packageInfo } from './package-info.js';
import { nofileFor } from './systemd.js';

const TEAMPASS_CODES = new Set(['SETTINGS_NOT_FOUND', 'SETTINGS_INVALID', 'KEY_FILE', 'KEY_CHECKSUM', 'DECRYPT_FAILED']);

function versionAtLeast(actual: string, wanted: string): boolean {
  const a = actual.split('.').map(Number);
  const w = wanted.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (w[i] ?? 0)) return (a[i] ?? 0) > (w[i] ?? 0);
  }
  return true;
}

const nodeCheck: CheckDef = {
  id: 'node',
  title: 'Node.js',
  async run() {
    const pkg = JSON.parse(await readFile(path.join(packageInfo().root, 'package.json'), 'utf8')) as { engines?: { node?: string } };
    const wanted = /(\d+(?:\.\d+){0,2})/.exec(pkg.engines?.node ?? '')?.[1] ?? '20';
    const actual = process.versions.node;
    if (versionAtLeast(actual, wanted)) return { status: 'ok', detail: `${actual} (needs ${wanted} or newer)` };
    return {
      status: 'error',
      detail: `${actual} is too old: teampass-ws needs ${wanted} or newer`,
      fix: `Install Node.js ${wanted.split('.')[0]} LTS or newer (your distribution, or NodeSource), then run npm ci again.`,
    };
  },
};

const configCheck: CheckDef = {
  id: 'config',
  title: 'Configuration',
  async run(state) {
    const { input } = state;
    const load = (flags = input.flags) => loadConfig({ flags, configPath: input.configPath, env: input.env, cwd: input.cwd });
    try {
      state.loaded = await load();
    } catch (err) {
      if (!isTeampassWsError(err) || !TEAMPASS_CODES.has(err.code)) throw err;
      // The TeamPass settings failed: say so in their own check, and validate the rest without them.
      state.teampassError = { message: err.message, suggestion: err.suggestion };
      state.loaded = await load({ ...input.flags, teampass_root: '' });
    }
    const file = state.loaded.configFile;
    const fromEnv = Object.values(state.loaded.sources).filter((s) => s.startsWith('env')).length;
    const fromFlags = Object.values(state.loaded.sources).filter((s) => s.startsWith('flag')).length;
    const extra = [fromEnv ? `${fromEnv} from the environment` : '', fromFlags ? `${fromFlags} from flags` : ''].filter(Boolean).join(', ');
    return { status: 'ok', detail: `${file ? `valid: ${file}` : 'valid: defaults (no config file)'}${extra ? `; ${extra}` : ''}` };
  },
};

const teampassCheck: CheckDef = {
  id: 'teampass',
  title: 'TeamPass settings',
  async run(state) {
    if (state.teampassError) return { status: 'error', detail: state.teampassError.message, fix: state.teampassError.suggestion };
    const tp = state.loaded?.teampass;
    if (!state.loaded) return skipped('the configuration is invalid');
    if (!tp) return skipped(state.loaded.dbTarget ? 'not used: the database is named directly (--db)' : 'no --teampass-root');
    const password = tp.passwordEncrypted ? `DB_PASSWD decrypted with ${tp.keyFilePath}` : 'DB_PASSWD is in clear text';
    return { status: 'ok', detail: `TeamPass ${tp.version} at ${tp.root}: ${tp.settingsPath} read, ${password}` };
  },
};

export function configurationChecks(): CheckDef[] {
  return [nodeCheck, configCheck, teampassCheck];
}

const unitCheck: CheckDef = {
  id: 'systemd',
  title: 'systemd unit',
  async run(state) {
    const file = state.input.unitFile;
    try {
      state.unitText = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return {
        status: 'warning',
        detail: `${file} does not exist: TeamPass's admin panel can only start and stop the daemon through that unit`,
        fix: 'Install it: sudo teampass-ws install-systemd --enable (with the same --config / --teampass-root).',
      };
    }
    const exec = /^ExecStart=(.*)$/m.exec(state.unitText)?.[1] ?? '';
    if (/\bphp\b/.test(exec) && !/teampass-ws/.test(exec)) {
      return {
        status: 'warning',
        detail: `${file} runs TeamPass's PHP daemon (${exec.trim()})`,
        fix: 'Replace it: sudo teampass-ws install-systemd --force, then systemctl restart teampass-websocket.',
      };
    }
    if (!/teampass-ws/.test(exec)) return { status: 'warning', detail: `${file} does not run teampass-ws (ExecStart=${exec.trim()})`, fix: 'Check it, or replace it: sudo teampass-ws install-systemd --force.' };
    return { status: 'ok', detail: `${file} runs teampass-ws` };
  },
};

/** The soft open-file limit of this process (what `serve` started the same way gets; Node raises soft to hard). */
export function currentNofileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.trim().split(/\s{2,}/)[1];
    if (soft && /^\d+$/.test(soft)) return Number(soft);
    if (soft === 'unlimited') return Number.MAX_SAFE_INTEGER;
  } catch {
    // fall through to the shell
  }
  const sh = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const value = sh.stdout?.trim();
  if (value === 'unlimited') return Number.MAX_SAFE_INTEGER;
  return value && /^\d+$/.test(value) ? Number(value) : undefined;
}

const nofileCheck: CheckDef = {
  id: 'nofile',
  title: 'Open-file limit',
  async run(state) {
    const wanted = state.input.maxConnections;
    const needed = nofileFor(wanted);
    const fromUnit = state.unitText ? /^LimitNOFILE=(\S+)/m.exec(state.unitText)?.[1] : undefined;
    let limit: number | undefined;
    let where: string;
    if (fromUnit !== undefined) {
      limit = fromUnit === 'infinity' ? Number.MAX_SAFE_INTEGER : Number(fromUnit.split(':').pop());
      where = `LimitNOFILE in ${state.input.unitFile}`;
    } else {
      limit = currentNofileLimit();
      where = 'this shell (ulimit -n)';
    }
    if (limit === undefined || Number.isNaN(limit)) return { status: 'warning', detail: 'cannot read the open-file limit', fix: `Make sure the daemon may open ${needed} files (LimitNOFILE=${needed}).` };
    const shown = limit >= Number.MAX_SAFE_INTEGER ? 'unlimited' : String(limit);
    if (limit >= needed) return { status: 'ok', detail: `${shown} from ${where}: enough for ${wanted} connections` };
    return {
      status: 'warning',
      detail: `${shown} from ${where}: about ${Math.max(0, limit - 64)} connections, fewer than the ${wanted} expected (--max-connections)`,
      fix: fromUnit !== undefined
        ? `Re-run install-systemd with --max-connections ${wanted} --force (it sets LimitNOFILE=${needed}), or lower --max-connections here.`
        : `Run the daemon under systemd (install-systemd sets LimitNOFILE=${needed}), or raise the limit before serve: ulimit -n ${needed}.`,
    };
  },
};

/** The nearest existing folder at or above `dir`. */
async function nearestExisting(dir: string): Promise<{ existing: string; isDir: boolean }> {
  let current = dir;
  for (;;) {
    try {
      const st = await stat(current);
      return { existing: current, isDir: st.isDirectory() };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    const parent = path.dirname(current);
    if (parent === current) return { existing: current, isDir: true };
    current = parent;
  }
}

/** Proves a folder writable by creating and removing a file in it: permission bits lie to root and on read-only mounts. */
async function probeWrite(dir: string): Promise<string | undefined> {
  const probe = path.join(dir, `.teampass-ws-check-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const fh = await open(probe, 'wx');
    await fh.close();
    await unlink(probe);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
}

function whoami(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

const logCheck: CheckDef = {
  id: 'log',
  title: 'Log file',
  async run(state) {
    const file = state.loaded?.config.log_file;
    if (!state.loaded) return skipped('the configuration is invalid');
    if (!file) return { status: 'ok', detail: 'none: the daemon logs to standard output (the journal under systemd)' };
    const resolved = path.resolve(state.input.cwd ?? process.cwd(), file);
    if ((await stat(resolved).catch(() => undefined))?.isDirectory()) {
      return { status: 'error', detail: `${resolved} is a folder, not a file`, fix: `Name a file in it: log_file ${path.join(resolved, 'teampass-ws.log')} (--log-file).` };
    }
    const dir = path.dirname(resolved);
    const who = whoami();
    const { existing, isDir } = await nearestExisting(dir);
    if (!isDir) {
      return { status: 'error', detail: `${existing} is a file, so the log folder ${dir} cannot exist`, fix: `Point log_file elsewhere (e.g. /var/log/teampass-ws/teampass-ws.log), or move ${existing} away.` };
    }
    const failure = await probeWrite(existing);
    if (failure) {
      return {
        status: 'error',
        detail: `${existing} is not writable by ${who} (${failure})`,
        fix: existing === dir
          ? `Give the daemon's user the folder: sudo install -d -o www-data -g www-data -m 0750 ${dir} (or choose another log_file).`
          : `Create the folder for the daemon's user: sudo install -d -o www-data -g www-data -m 0750 ${dir}.`,
      };
    }
    if (existing !== dir) return { status: 'ok', detail: `${dir} will be created in ${existing} (writable by ${who})` };
    try {
      const fh = await open(resolved, 'a');
      await fh.close();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      return { status: 'error', detail: `${resolved} cannot be appended to by ${who} (${code})`, fix: `sudo chown www-data: ${resolved} (the daemon's user), or remove it.` };
    }
    return { status: 'ok', detail: `${resolved} is writable by ${who}` };
  },
};

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * What about an allowed_origins entry will surprise an admin. An entry that can never match a
 * browser is refused by the configuration itself (serve and check alike); these only warn.
 */
function originWarning(entry: string): string | undefined {
  if (entry === '*') return '"*" lets any web site open a websocket with a signed-in user\'s token (cross-site websocket hijacking)';
  const trimmed = entry.trim().replace(/\/+$/, '');
  if (!trimmed.includes('://')) return undefined;
  const url = new URL(trimmed);
  if (url.pathname !== '/' || url.search || url.hash) return `"${entry}": only ${url.origin} counts, the rest is ignored`;
  if (url.protocol === 'http:' && !LOCAL_HOSTS.has(url.hostname)) return `"${entry}" is without TLS: tokens and events travel in clear`;
  return undefined;
}

const originsCheck: CheckDef = {
  id: 'origins',
  title: 'Allowed origins',
  async run(state) {
    if (!state.loaded) return skipped('the configuration is invalid');
    const origins = state.loaded.config.allowed_origins;
    if (origins.length === 0) {
      const url = state.db ? await new SettingsRepository(state.db).read('cpassman_url').catch(() => null) : null;
      let origin: string | undefined;
      try {
        if (url) origin = new URL(url).origin;
      } catch {
        origin = undefined;
      }
      if (origin && origin !== 'null') return { status: 'ok', detail: `not set: browsers from TeamPass's own address ${origin} (cpassman_url) are allowed` };
      return {
        status: 'warning',
        detail: "not set, and TeamPass's cpassman_url is unknown: any page whose origin matches the Host header it sends is allowed",
        fix: 'Set allowed_origins to the address users open TeamPass at, e.g. "allowed_origins": ["https://teampass.example.com"].',
      };
    }
    const warnings = origins.map(originWarning).filter((w): w is string => w !== undefined);
    if (warnings.length > 0) {
      return {
        status: 'warning',
        detail: warnings.join('; '),
        fix: 'List the https:// address users open TeamPass at (serve it over TLS: templates/nginx.conf, templates/apache.conf).',
      };
    }
    return { status: 'ok', detail: origins.join(', ') };
  },
};

export function environmentChecks(): CheckDef[] {
  return [unitCheck, nofileCheck, logCheck, originsCheck];
}
