import { CONFIG_KEYS, CONFIG_KEY_NAMES, SECRET_KEYS, envName, kebab, type ConfigKey, type LoadedConfig } from '../config/index.js';
import { describeDbTarget, redactUrl } from '../db/index.js';

/** Names that hold a secret even where SECRET_KEYS does not list them (a key added later). */
const SECRET_NAME = /(password|passwd|secret|token)$/;

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key as ConfigKey) || SECRET_NAME.test(key);
}

export interface ConfigEntry {
  key: ConfigKey;
  /** The value as it may be shown: a secret is '(hidden)' (or '' when unset), a database URL loses its password. */
  value: unknown;
  /** default, file <path>, TeamPass settings <path>, env TEAMPASS_WS_<KEY> or flag --<key>. */
  source: string;
  secret: boolean;
  flag: string;
  env: string;
}

function shownValue(key: ConfigKey, value: unknown): unknown {
  if (key === 'db' && typeof value === 'string') return redactUrl(value);
  if (!isSecretKey(key)) return value;
  return value === '' || value === undefined || value === null ? '' : '(hidden)';
}

/** Every key's effective value and where it came from, secrets hidden. */
export function configEntries(loaded: LoadedConfig): ConfigEntry[] {
  const { config } = loaded;
  return CONFIG_KEY_NAMES.map((key) => ({
    key,
    value: shownValue(key, config[key]),
    source: loaded.sources[key],
    secret: isSecretKey(key),
    flag: `--${kebab(key)}`,
    env: envName(key),
  }));
}

export interface ConfigSummary {
  config_file: string | null;
  teampass_settings: string | null;
  teampass_version: string | null;
  /** Where the database is, without its password; null when none is named. */
  database: string | null;
  token_mode: string;
}

export function configSummary(loaded: LoadedConfig): ConfigSummary {
  return {
    config_file: loaded.configFile ?? null,
    teampass_settings: loaded.teampass?.settingsPath ?? null,
    teampass_version: loaded.teampass?.version ?? null,
    database: loaded.dbTarget ? describeDbTarget(loaded.dbTarget) : null,
    token_mode: loaded.tokenMode,
  };
}

/** A value as one line of text for the table. */
export function valueText(value: unknown): string {
  if (Array.isArray(value)) return value.length ? value.join(',') : '(empty)';
  if (value === '') return '(empty)';
  return String(value);
}

export function keyDescription(key: ConfigKey): string {
  return CONFIG_KEYS[key].description;
}
