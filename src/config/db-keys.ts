import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { DbTarget } from '../db/target.js';
import { TeampassWsError } from '../errors.js';
import type { Config, ConfigKey } from './schema.js';

/** The database as TeamPass's settings hold it, one value per key: nothing to percent-encode. */
export const DB_PART_KEYS = ['db_host', 'db_port', 'db_user', 'db_password', 'db_password_file', 'db_name', 'db_socket'] as const satisfies readonly ConfigKey[];

/** The keys among DB_PART_KEYS that hold a value (db_port alone names no database: it has a default). */
export function namedDbParts(config: Config): ConfigKey[] {
  return DB_PART_KEYS.filter((key) => key !== 'db_port' && config[key] !== '');
}

/** A MySQL target from db_host … db_socket; every missing or contradictory part is an error naming its key. */
export function dbTargetFromKeys(config: Config, sources: Record<ConfigKey, string>, cwd: string): DbTarget {
  const missing = (['db_user', 'db_name'] as const).filter((key) => config[key] === '');
  if (missing.length > 0) {
    throw new TeampassWsError('CONFIG_INVALID', `The database keys name no ${missing.join(' and no ')} (set: ${namedDbParts(config).join(', ')}).`, {
      suggestion: 'Give db_user and db_name too (e.g. --db-user teampass --db-name teampass), with db_host or db_socket and db_password or db_password_file.',
    });
  }
  if (config.db_password && config.db_password_file) {
    throw new TeampassWsError('CONFIG_INVALID', `Both db_password (from ${sources.db_password}) and db_password_file (from ${sources.db_password_file}) are set.`, {
      suggestion: 'Keep one of them.',
    });
  }
  let password = config.db_password;
  if (config.db_password_file) {
    const file = path.resolve(cwd, config.db_password_file);
    try {
      password = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new TeampassWsError('CONFIG_INVALID', `Cannot read db_password_file ${file} (from ${sources.db_password_file}): ${code === 'ENOENT' ? 'no such file' : code ?? String(err)}.`, {
        suggestion: "Check the path, and that the daemon's user may read it (chmod 0640, group www-data).",
      });
    }
  }
  return {
    client: 'mysql',
    host: config.db_host || '127.0.0.1',
    port: config.db_port,
    user: config.db_user,
    password,
    database: config.db_name,
    ...(config.db_socket ? { socketPath: config.db_socket } : {}),
  };
}

/** The database named twice (a URL or TeamPass's settings, and separate keys) is a mistake to say. */
export function conflictingDbSources(what: string, parts: readonly ConfigKey[]): TeampassWsError {
  return new TeampassWsError('CONFIG_INVALID', `The database is named twice: by ${what} and by ${parts.join(', ')}.`, {
    suggestion: 'Keep one way: db (a URL), teampass_root (TeamPass settings), or the db_host, db_user, db_password, db_name keys.',
  });
}
