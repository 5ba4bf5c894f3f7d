import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_KEYS, CONFIG_KEY_NAMES, envName, kebab, type LoadedConfig } from '../config/index.js';
import { TeampassWsError } from '../errors.js';

/** Where `config --init` writes without a FILE: the first place every command looks in its folder. */
export const INIT_DEFAULT_FILE = 'teampass-ws.json';

const HEADER =
  'teampass-ws configuration. Keys starting with // are comments and are ignored. Every key is optional; ' +
  'each is also a flag (--kebab-case) and an environment variable (TEAMPASS_WS_<KEY>), which win over this file. ' +
  '`teampass-ws config` shows the effective value of every key and where it comes from. ' +
  'This file may hold the database password: keep it readable only by root and the daemon (mode 0640).';

/**
 * The config file `config --init` writes: JSON (the loader reads nothing else) where a
 * `"//<key>"` entry before each key explains it, its flag, its environment variable and its
 * default. Values are the effective ones, except those read from TeamPass's settings (they are
 * read again from teampass_root at every start, so the file does not copy the password).
 */
export function renderConfigFile(loaded: LoadedConfig): string {
  const { config } = loaded;
  const lines: string[] = ['{', `  "//": ${JSON.stringify(HEADER)},`];
  CONFIG_KEY_NAMES.forEach((key, i) => {
    const spec = CONFIG_KEYS[key];
    const fromTeampass = loaded.sources[key].startsWith('TeamPass settings');
    const value = fromTeampass ? spec.default : config[key];
    const comment = `${spec.description}. Flag --${kebab(key)}, env ${envName(key)}; default ${JSON.stringify(spec.default)}.`;
    lines.push('', `  "//${key}": ${JSON.stringify(comment)},`);
    lines.push(`  ${JSON.stringify(key)}: ${JSON.stringify(value)}${i === CONFIG_KEY_NAMES.length - 1 ? '' : ','}`);
  });
  lines.push('}', '');
  return lines.join('\n');
}

/** Writes the file, refusing to replace an existing one unless `force`. */
export function writeConfigFile(file: string, text: string, force: boolean): void {
  if (existsSync(file)) {
    if (statSync(file).isDirectory()) {
      throw new TeampassWsError('IO', `${file} is a folder, not a config file.`, { suggestion: `Name a file, e.g. ${path.join(file, 'config.json')}.` });
    }
    if (!force) {
      throw new TeampassWsError('IO', `${file} exists already; it was left unchanged.`, {
        suggestion: 'Add --force to replace it, or name another file: teampass-ws config --init FILE.',
      });
    }
  }
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text, { mode: 0o640 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new TeampassWsError('IO', `Cannot write ${file}: ${code}.`, {
      suggestion: code === 'EACCES' || code === 'EPERM' ? 'Run it as a user who may write there (sudo for /etc/teampass-ws).' : 'Check the path.',
    });
  }
}
