import path from 'node:path';
import { TeampassWsError } from '../errors.js';

export type DbTarget =
  | { client: 'mysql'; host: string; port: number; user: string; password: string; database: string; ssl?: boolean; socketPath?: string }
  | { client: 'sqlite'; filename: string };

const USAGE = 'Use --db mysql://user:password@host:3306/teampass or --db sqlite:./teampass-ws.sqlite (or --teampass-root).';

/** Parses `mysql://user:pass@host:port/name` or `sqlite:<path>`; `source` names where it came from. */
export function parseDbUrl(url: string, source: string, cwd = process.cwd()): DbTarget {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!file) throw new TeampassWsError('DB_URL', `The sqlite database from ${source} names no file.`, { suggestion: USAGE });
    return { client: 'sqlite', filename: file === ':memory:' ? file : path.resolve(cwd, file) };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TeampassWsError('DB_URL', `The database URL from ${source} is not a URL (${redactUrl(url)}).`, { suggestion: USAGE });
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') {
    throw new TeampassWsError('DB_URL', `Unsupported database scheme "${parsed.protocol.replace(/:$/, '')}" from ${source}.`, { suggestion: USAGE });
  }
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new TeampassWsError('DB_URL', `The database URL from ${source} has a malformed percent escape in its ${what}.`, {
        suggestion: `In a URL, write % as %25 (and @ : / # ? as %40 %3A %2F %23 %3F); or give db_host, db_user, db_password, db_name, which need no escaping.`,
      });
    }
  };
  const database = decode(parsed.pathname.replace(/^\//, ''), 'database name');
  if (!database) throw new TeampassWsError('DB_URL', `The database URL from ${source} names no database (…/name).`, { suggestion: USAGE });
  const port = parsed.port ? Number(parsed.port) : 3306;
  const socketPath = parsed.searchParams.get('socket') ?? undefined;
  return {
    client: 'mysql',
    host: parsed.hostname || '127.0.0.1',
    port,
    user: decode(parsed.username, 'user name'),
    password: decode(parsed.password, 'password'),
    database,
    ssl: parsed.searchParams.get('ssl') === 'true',
    ...(socketPath ? { socketPath } : {}),
  };
}

/** The URL with its password replaced, safe for logs and error messages. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

/** A one-line description of where the database is, without the password. */
export function describeDbTarget(target: DbTarget): string {
  if (target.client === 'sqlite') return `sqlite:${target.filename}`;
  const where = target.socketPath ? `socket ${target.socketPath}` : `${target.host}:${target.port}`;
  return `mysql://${target.user}@${where}/${target.database}`;
}

/** The embedded default: a SQLite file in the working folder, shared by `serve --demo` and `emit`. */
export const EMBEDDED_DB_FILE = 'teampass-ws-demo.sqlite';

export function embeddedTarget(cwd = process.cwd()): DbTarget {
  return { client: 'sqlite', filename: path.resolve(cwd, EMBEDDED_DB_FILE) };
}
