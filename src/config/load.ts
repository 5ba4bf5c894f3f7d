import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TeampassWsError } from '../errors.js';
import { CONFIG_KEYS, CONFIG_KEY_NAMES, SECRET_KEYS, defaultConfig, envName, kebab, type Config, type ConfigKey, type KeyType } from './schema.js';
import { parseDbUrl, type DbTarget } from '../db/target.js';
import { conflictingDbSources, dbTargetFromKeys, namedDbParts } from './db-keys.js';
import { originEntryProblem } from './origins.js';
import { readTeampassSettings, type TeampassSettings } from '../teampass/index.js';

export type Source = 'default' | `file ${string}` | `TeamPass settings ${string}` | `env ${string}` | `flag --${string}`;

export interface LoadOptions {
  /** Values from command-line flags, by config key; undefined means not given. */
  flags?: Partial<Record<ConfigKey, unknown>>;
  /** --config, when given. */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Places searched for a config file after --config and TEAMPASS_WS_CONFIG. */
  searchPaths?: string[];
}

export interface LoadedConfig {
  config: Config;
  sources: Record<ConfigKey, Source>;
  configFile?: string;
  teampass?: TeampassSettings;
  /** Where the database is; null when nothing names one (the embedded demo default). */
  dbTarget: DbTarget | null;
  /** token_mode with 'auto' resolved. */
  tokenMode: 'reusable' | 'single_use';
}

export const DEFAULT_CONFIG_SEARCH = ['teampass-ws.json', '/etc/teampass-ws/config.json'];

function shown(key: ConfigKey, raw: unknown): string {
  if (SECRET_KEYS.has(key)) return '(hidden)';
  return JSON.stringify(raw);
}

const where = (source: Source): string => (source.startsWith('flag') ? 'the command line' : source);

function invalid(key: ConfigKey, raw: unknown, source: Source, expected: string): TeampassWsError {
  return new TeampassWsError('CONFIG_INVALID', `Invalid value for "${key}" from ${source}: ${shown(key, raw)}; expected ${expected}.`, {
    suggestion: `Fix "${key}" in ${where(source)}.`,
  });
}

/** Turns a raw value from any source into the key's type, or throws an error naming key, value and source. */
export function coerceValue<K extends ConfigKey>(key: K, raw: unknown, source: Source): Config[K] {
  // Each branch below returns exactly the value KeyValue derives for its descriptor's kind.
  return coerceByType(key, CONFIG_KEYS[key].type, raw, source) as Config[K];
}

function coerceByType(key: ConfigKey, type: KeyType, raw: unknown, source: Source): Config[ConfigKey] {
  switch (type.kind) {
    case 'int': {
      const expected = `an integer from ${type.min} to ${type.max}`;
      let n: number;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw)) n = Number(raw.trim());
      else throw invalid(key, raw, source, expected);
      if (!Number.isSafeInteger(n) || n < type.min || n > type.max) throw invalid(key, raw, source, expected);
      return n;
    }
    case 'string': {
      if (typeof raw !== 'string') throw invalid(key, raw, source, 'a string');
      if (!type.allowEmpty && raw.trim() === '') throw invalid(key, raw, source, 'a non-empty string');
      return raw;
    }
    case 'enum': {
      if (typeof raw !== 'string' || !type.values.includes(raw)) throw invalid(key, raw, source, `one of ${type.values.join(', ')}`);
      return raw;
    }
    case 'list': {
      let list: string[];
      if (Array.isArray(raw) && raw.every((v) => typeof v === 'string')) list = raw.map((v) => v.trim()).filter(Boolean);
      else if (typeof raw === 'string') list = raw.split(',').map((v) => v.trim()).filter(Boolean);
      else throw invalid(key, raw, source, 'a list of strings (an array, or comma separated)');
      if (type.of === 'origin') {
        const problem = list.map(originEntryProblem).find((p) => p !== undefined);
        if (problem) {
          throw new TeampassWsError('CONFIG_INVALID', `Invalid value for "${key}" from ${source}: ${problem}, so it never matches a browser.`, {
            suggestion: `Write each entry of "${key}" as an origin (https://teampass.example.com) or a host name (teampass.example.com), in ${where(source)}.`,
          });
        }
      }
      return list;
    }
    case 'int_or_auto': {
      if (typeof raw === 'string' && raw.trim() === 'auto') return 'auto';
      const expected = `a whole number from ${type.min} to ${type.max}, or "auto" (one per CPU core)`;
      let n: number;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string' && /^\s*\d+\s*$/.test(raw)) n = Number(raw.trim());
      else throw invalid(key, raw, source, expected);
      if (!Number.isSafeInteger(n) || n < type.min || n > type.max) throw invalid(key, raw, source, expected);
      return n;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw invalid(key, raw, source, 'true or false');
    }
  }
}

function isConfigKey(key: string): key is ConfigKey {
  return Object.prototype.hasOwnProperty.call(CONFIG_KEYS, key);
}

function findConfigFile(opts: LoadOptions, env: NodeJS.ProcessEnv, cwd: string): { file?: string; required: boolean } {
  if (opts.configPath) return { file: path.resolve(cwd, opts.configPath), required: true };
  if (env.TEAMPASS_WS_CONFIG) return { file: path.resolve(cwd, env.TEAMPASS_WS_CONFIG), required: true };
  for (const candidate of opts.searchPaths ?? DEFAULT_CONFIG_SEARCH) {
    const file = path.resolve(cwd, candidate);
    if (existsSync(file)) return { file, required: false };
  }
  return { required: false };
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TeampassWsError('CONFIG_FILE', `Cannot read config file ${file}: ${code === 'ENOENT' ? 'no such file' : code ?? String(err)}.`, {
      suggestion: 'Check the path given with --config or TEAMPASS_WS_CONFIG, and that this user may read it.',
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new TeampassWsError('CONFIG_FILE', `Config file ${file} is not valid JSON: ${(err as Error).message}.`, {
      suggestion: 'The config file is one JSON object of keys; see templates/config.example.json.',
    });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TeampassWsError('CONFIG_FILE', `Config file ${file} must hold one JSON object, not ${Array.isArray(parsed) ? 'an array' : typeof parsed}.`, {
      suggestion: 'Write it as {"port": 8080, ...}; see templates/config.example.json.',
    });
  }
  return parsed as Record<string, unknown>;
}

function unknownKey(key: string, source: Source): TeampassWsError {
  const hint = CONFIG_KEY_NAMES.find((k) => k === key.replace(/-/g, '_').toLowerCase());
  return new TeampassWsError('CONFIG_INVALID', `Unknown configuration key "${key}" in ${source}.`, {
    suggestion: hint ? `Did you mean "${hint}"?` : `Known keys: ${CONFIG_KEY_NAMES.join(', ')}.`,
  });
}

/**
 * Merges defaults < config file < TeamPass settings < env < flags, validating every value
 * against its key's type and naming the source of any bad or unknown key.
 */
export async function loadConfig(opts: LoadOptions = {}): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const config = defaultConfig();
  const sources = Object.fromEntries(CONFIG_KEY_NAMES.map((k) => [k, 'default'])) as Record<ConfigKey, Source>;
  const set = <K extends ConfigKey>(key: K, raw: unknown, source: Source) => {
    config[key] = coerceValue(key, raw, source);
    sources[key] = source;
  };

  const { file, required } = findConfigFile(opts, env, cwd);
  let configFile: string | undefined;
  if (file && (required || existsSync(file))) {
    configFile = file;
    const source: Source = `file ${file}`;
    for (const [key, raw] of Object.entries(readConfigFile(file))) {
      if (key.startsWith('$') || key.startsWith('//')) continue; // "$schema" and comment keys
      if (!isConfigKey(key)) throw unknownKey(key, source);
      set(key, raw, source);
    }
  }

  const envLayer: [ConfigKey, string, Source][] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('TEAMPASS_WS_') || name === 'TEAMPASS_WS_CONFIG' || raw === undefined) continue;
    if (name.startsWith('TEAMPASS_WS_TEST_')) continue; // the test suite's own variables
    const key = name.slice('TEAMPASS_WS_'.length).toLowerCase();
    if (!isConfigKey(key)) throw unknownKey(name, `env ${name}`);
    envLayer.push([key, raw, `env ${envName(key)}`]);
  }
  const flagLayer: [ConfigKey, unknown, Source][] = [];
  for (const [key, raw] of Object.entries(opts.flags ?? {})) {
    if (raw === undefined) continue;
    if (!isConfigKey(key)) throw unknownKey(key, `flag --${kebab(key)}`);
    flagLayer.push([key, raw, `flag --${kebab(key)}`]);
  }

  // teampass_root itself may come from any layer; the settings it names sit below env and flags.
  let rootRaw = config.teampass_root;
  for (const [key, raw, source] of [...envLayer, ...flagLayer]) {
    if (key === 'teampass_root') rootRaw = coerceValue(key, raw, source);
  }
  let teampass: TeampassSettings | undefined;
  if (rootRaw) {
    teampass = await readTeampassSettings(path.resolve(cwd, rootRaw));
    const source: Source = `TeamPass settings ${teampass.settingsPath}`;
    set('prefix', teampass.db.prefix, source);
    sources.db = source;
    config.db = '';
  }

  for (const [key, raw, source] of envLayer) set(key, raw, source);
  for (const [key, raw, source] of flagLayer) set(key, raw, source);

  if (config.pong_timeout_sec <= config.ping_interval_sec) {
    throw new TeampassWsError('CONFIG_INVALID', `"pong_timeout_sec" (${config.pong_timeout_sec}, from ${sources.pong_timeout_sec}) must be longer than "ping_interval_sec" (${config.ping_interval_sec}, from ${sources.ping_interval_sec}).`, {
      suggestion: 'A client answers one heartbeat per ping interval; give it at least one full interval, e.g. twice the ping interval.',
    });
  }
  if (config.max_message_size > config.max_frame_bytes) {
    throw new TeampassWsError('CONFIG_INVALID', `"max_message_size" (${config.max_message_size}) must not exceed "max_frame_bytes" (${config.max_frame_bytes}).`, {
      suggestion: 'Raise max_frame_bytes or lower max_message_size.',
    });
  }

  let dbTarget: DbTarget | null = null;
  const parts = namedDbParts(config);
  if (parts.length > 0 && (config.db || teampass)) throw conflictingDbSources(config.db ? `db (from ${sources.db})` : `teampass_root (${teampass?.settingsPath})`, parts);
  if (config.db) dbTarget = parseDbUrl(config.db, sources.db, cwd);
  else if (parts.length > 0) dbTarget = dbTargetFromKeys(config, sources, cwd);
  else if (teampass) {
    dbTarget = {
      client: 'mysql',
      host: teampass.db.host,
      port: teampass.db.port,
      user: teampass.db.user,
      password: teampass.db.password,
      database: teampass.db.database,
      ssl: Boolean(teampass.db.ssl),
      ...localSocket(teampass.db.host),
    };
  }

  const tokenMode = config.token_mode === 'auto' ? (teampass?.version === '3.1' ? 'single_use' : 'reusable') : config.token_mode;
  return { config, sources, configFile, teampass, dbTarget, tokenMode };
}

const MYSQL_SOCKETS = ['/run/mysqld/mysqld.sock', '/var/run/mysqld/mysqld.sock', '/var/lib/mysql/mysql.sock', '/tmp/mysql.sock'];

/** PHP's mysqli reads DB_HOST "localhost" as the local socket; a 'user'@'localhost' grant needs it. */
function localSocket(host: string): { socketPath?: string } {
  if (host !== 'localhost') return {};
  const socketPath = MYSQL_SOCKETS.find((p) => existsSync(p));
  return socketPath ? { socketPath } : {};
}
