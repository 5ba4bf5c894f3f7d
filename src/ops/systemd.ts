import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, renameSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import { CONFIG_KEY_NAMES, SECRET_KEYS, kebab, type ConfigKey } from '../config/schema.js';
import { TeampassWsError } from '../errors.js';
import { binPath, readTemplate } from './package-info.js';

export const UNIT_NAME = 'teampass-websocket.service';
export const DEFAULT_UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;
/** Folders systemd reads unit files from; writing elsewhere needs no daemon-reload. */
export const UNIT_DIRECTORIES = ['/etc/systemd/system', '/run/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];
export const DEFAULT_MAX_CONNECTIONS = 10_000;

/** Open files for `connections` sockets plus headroom (database pool, log, listener), in whole KiB. */
export function nofileFor(connections: number): number {
  return Math.ceil((connections + 1024) / 1024) * 1024;
}

export interface UnitSpec {
  nodePath: string;
  binPath: string;
  /** Arguments after the binary, e.g. ['serve', '--config', '/etc/teampass-ws/config.json']. */
  args: string[];
  user: string;
  group?: string;
  workingDirectory: string;
  limitNofile: number;
  /** Folders the daemon writes to (log, SQLite database). */
  writablePaths: string[];
  /** Names under /var/log that systemd creates, owned by the service user. */
  logsDirectories: string[];
  /** 'read-only' when something the daemon needs lives under a home folder. */
  protectHome: 'yes' | 'read-only';
  /** Listening below 1024 needs CAP_NET_BIND_SERVICE. */
  bindPrivilegedPort: boolean;
}

/** Quotes one ExecStart word the way systemd parses it; % and $ are systemd's own specifiers. */
export function quoteExecWord(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (escaped !== '' && !/[\s"'\\;]/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A path that is a setting's whole value (WorkingDirectory): only systemd's specifiers need escaping. */
function unitPath(p: string): string {
  return p.replace(/%/g, '%%');
}

/** A path in a space-separated list (ReadWritePaths): quoted when it holds spaces. */
function unitListPath(p: string): string {
  const escaped = unitPath(p);
  return /[\s"'\\]/.test(escaped) ? `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : escaped;
}

export function renderUnit(spec: UnitSpec): string {
  const writable = [
    ...spec.logsDirectories.map((d) => `LogsDirectory=${d}`),
    ...spec.writablePaths.map((p) => `ReadWritePaths=${unitListPath(p)}`),
  ].join('\n');
  const values: Record<string, string> = {
    USER: spec.user,
    GROUP_LINE: spec.group ? `Group=${spec.group}` : '',
    WORKING_DIRECTORY: unitPath(spec.workingDirectory),
    EXEC_START: [spec.nodePath, spec.binPath, ...spec.args].map(quoteExecWord).join(' '),
    LIMIT_NOFILE: String(spec.limitNofile),
    WRITABLE_PATHS: writable,
    PROTECT_HOME: spec.protectHome,
    CAPABILITIES: spec.bindPrivilegedPort ? 'CAP_NET_BIND_SERVICE' : '',
  };
  const fill = (line: string) =>
    line.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
      if (!(name in values)) throw new Error(`the unit template names an unknown value {{${name}}}`);
      return values[name];
    });
  return readTemplate(UNIT_NAME)
    .split('\n')
    // A line that is only a placeholder with nothing to say disappears rather than staying blank.
    .filter((line) => !/^\{\{[A-Z_]+\}\}$/.test(line.trim()) || fill(line).trim() !== '')
    .map(fill)
    .join('\n');
}

const HOME_ROOTS = ['/home', '/root', '/run/user'];
const isUnder = (p: string, root: string) => p === root || p.startsWith(`${root}/`);

export interface UnitPlanInput {
  loaded: LoadedConfig;
  /** Config keys given as flags on this command line, forwarded to `serve` when there is no config file. */
  flagValues: Partial<Record<ConfigKey, string>>;
  user: string;
  group?: string;
  workingDirectory?: string;
  maxConnections: number;
  nodePath?: string;
  binPath?: string;
}

export interface UnitPlan {
  spec: UnitSpec;
  warnings: string[];
}

function resolveReal(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}\$?$/i;

export function userExists(user: string): boolean {
  const r = spawnSync('getent', ['passwd', user], { encoding: 'utf8' });
  if (r.error === undefined && r.status !== null) return r.status === 0;
  try {
    return readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.split(':')[0] === user);
  } catch {
    return true;
  }
}

/** Decides the unit from the configuration the daemon will run with and this command's options. */
export function planUnit(input: UnitPlanInput): UnitPlan {
  const { loaded } = input;
  const { config } = loaded;
  const warnings: string[] = [];
  if (!USER_NAME.test(input.user)) {
    throw new TeampassWsError('INPUT', `"${input.user}" is not a user name.`, { suggestion: 'Give the account the daemon runs as, e.g. --user www-data (the web server user).' });
  }
  if (input.group !== undefined && !USER_NAME.test(input.group)) {
    throw new TeampassWsError('INPUT', `"${input.group}" is not a group name.`, { suggestion: 'Give an existing group, e.g. --group www-data.' });
  }
  if (input.user === 'nobody') warnings.push('"nobody" is shared by unrelated services (systemd warns about it); use a dedicated account or www-data');
  else if (input.user === 'root') warnings.push('the daemon would run as root; a dedicated account or the web server user (www-data) is safer');
  else if (!userExists(input.user)) warnings.push(`user "${input.user}" does not exist on this machine; create it or choose another with --user`);

  const args = ['serve'];
  if (loaded.configFile) {
    args.push('--config', path.resolve(loaded.configFile));
  }
  for (const key of CONFIG_KEY_NAMES) {
    const value = input.flagValues[key];
    if (value === undefined) continue;
    args.push(`--${kebab(key)}`, key === 'teampass_root' || key === 'log_file' ? path.resolve(value) : value);
    const secret = key === 'db' ? /^[a-z]+:\/\/[^:@/]*:[^@]+@/i.test(value) : SECRET_KEYS.has(key) && value !== '';
    if (secret) {
      warnings.push(`--${kebab(key)} puts a secret on the command line, visible to every local user in ps and systemctl status; put it in a config file readable only by ${input.user} and pass --config`);
    }
  }
  if (!loaded.dbTarget) {
    warnings.push('no database is configured (--teampass-root, --db or a config file): the service would run the embedded demo, not TeamPass');
  }

  const writablePaths: string[] = [];
  const logsDirectories: string[] = [];
  if (config.log_file) {
    const dir = path.dirname(path.resolve(config.log_file));
    const underVarLog = /^\/var\/log\/([^/].*)$/.exec(dir);
    if (underVarLog) logsDirectories.push(underVarLog[1]);
    else {
      writablePaths.push(dir);
      if (!existsSync(dir)) warnings.push(`the log folder ${dir} does not exist; create it, owned by ${input.user}, before starting the service`);
    }
  }
  if (loaded.dbTarget?.client === 'sqlite' && loaded.dbTarget.filename !== ':memory:') {
    // SQLite writes its journal (WAL) next to the database file.
    const dir = path.dirname(loaded.dbTarget.filename);
    if (!writablePaths.includes(dir)) writablePaths.push(dir);
  }

  const nodePath = resolveReal(input.nodePath ?? process.execPath);
  const bin = resolveReal(input.binPath ?? binPath());
  const workingDirectory = path.resolve(input.workingDirectory ?? path.dirname(path.dirname(bin)));
  const needed = [nodePath, bin, workingDirectory, ...(loaded.configFile ? [path.resolve(loaded.configFile)] : []), ...writablePaths];
  if (config.teampass_root) needed.push(path.resolve(config.teampass_root));
  const inHome = needed.filter((p) => HOME_ROOTS.some((root) => isUnder(p, root)));
  if (inHome.length > 0) warnings.push(`${inHome.join(', ')} ${inHome.length > 1 ? 'are' : 'is'} under a home folder: ProtectHome=read-only instead of yes`);
  const inTmp = needed.filter((p) => isUnder(p, '/tmp') || isUnder(p, '/var/tmp'));
  if (inTmp.length > 0) warnings.push(`${inTmp.join(', ')} ${inTmp.length > 1 ? 'are' : 'is'} under /tmp, which the service does not see (PrivateTmp=yes); move ${inTmp.length > 1 ? 'them' : 'it'}`);

  return {
    spec: {
      nodePath,
      binPath: bin,
      args,
      user: input.user,
      ...(input.group ? { group: input.group } : {}),
      workingDirectory,
      limitNofile: nofileFor(input.maxConnections),
      writablePaths,
      logsDirectories,
      protectHome: inHome.length > 0 ? 'read-only' : 'yes',
      bindPrivilegedPort: config.port < 1024,
    },
    warnings,
  };
}

export type WriteOutcome = 'created' | 'replaced' | 'unchanged';

/** Writes the unit atomically; an existing, different unit is only replaced with `force`. */
export function writeUnit(file: string, content: string, force: boolean): WriteOutcome {
  let existing: string | undefined;
  try {
    existing = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new TeampassWsError('IO', `Cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}.`, { suggestion: 'Run as root (sudo).' });
    }
  }
  if (existing === content) return 'unchanged';
  if (existing !== undefined && !force) {
    const php = /ExecStart=.*\bphp\b/.test(existing);
    throw new TeampassWsError('INPUT', `${file} already exists${php ? " and runs TeamPass's PHP daemon" : ''}.`, {
      suggestion: `Compare it with \`teampass-ws install-systemd --dry-run\`, then add --force to replace it${php ? " (TeamPass's admin panel keeps working: it starts and stops the same unit)" : ''}.`,
    });
  }
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(tmp, content, { mode: 0o644 });
    chmodSync(tmp, 0o644);
    renameSync(tmp, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TeampassWsError('IO', `Cannot write ${file}: ${code ?? String(err)}.`, {
      suggestion: code === 'EACCES' || code === 'EPERM' ? 'Run as root (sudo), or write elsewhere with --output FILE.' : 'Check the path given with --output.',
    });
  }
  return existing === undefined ? 'created' : 'replaced';
}

/** systemd is the running init: systemctl is installed and /run/systemd/system exists. */
export function systemdRunning(): boolean {
  if (!existsSync('/run/systemd/system')) return false;
  const r = spawnSync('systemctl', ['--version'], { encoding: 'utf8' });
  return r.error === undefined && r.status === 0;
}

export interface SystemctlResult {
  command: string;
  ok: boolean;
  output: string;
}

export function systemctl(args: string[]): SystemctlResult {
  const r = spawnSync('systemctl', args, { encoding: 'utf8' });
  return {
    command: `systemctl ${args.join(' ')}`,
    ok: r.error === undefined && r.status === 0,
    output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim(),
  };
}

export function isUnitDirectory(file: string): boolean {
  return UNIT_DIRECTORIES.includes(path.dirname(path.resolve(file)));
}
