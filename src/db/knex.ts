import knexFactory, { type Knex } from 'knex';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { TeampassWsError } from '../errors.js';
import { describeDbTarget, type DbTarget } from './target.js';
import { isValidPrefix, tableNames, type TableNames } from './tables.js';

/** Slots of mysql2's per-connection prepared-statement cache (see the mysql2 connection below). */
export const PREPARED_STATEMENT_SLOTS = 16;

export interface Database {
  readonly knex: Knex;
  readonly client: 'mysql' | 'sqlite';
  readonly prefix: string;
  readonly t: TableNames;
  readonly target: DbTarget;
  /** `where` that names the target without its password. */
  readonly description: string;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  prefix: string;
  poolMax?: number;
  /** ms to wait for a connection before the query fails. */
  acquireTimeoutMs?: number;
}

/**
 * knex prints pool and connection errors to the console on every failed attempt; they reach
 * callers as rejected queries anyway, and the poller logs outages once per state change.
 */
const quietKnexLog = {
  warn: () => undefined,
  error: () => undefined,
  deprecate: () => undefined,
  debug: () => undefined,
};

export function createDatabase(target: DbTarget, options: DatabaseOptions): Database {
  if (!isValidPrefix(options.prefix)) {
    throw new TeampassWsError('CONFIG_INVALID', `Invalid table prefix "${options.prefix}": use letters, digits and underscores only.`, {
      suggestion: "Use TeamPass's DB_PREFIX, by default teampass_.",
    });
  }
  let knex: Knex;
  if (target.client === 'sqlite') {
    if (target.filename !== ':memory:') mkdirSync(path.dirname(target.filename), { recursive: true });
    knex = knexFactory({
      client: 'better-sqlite3',
      log: quietKnexLog,
      connection: { filename: target.filename },
      useNullAsDefault: true,
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
          // WAL lets `emit` and other processes write while the daemon reads.
          conn.pragma('journal_mode = WAL');
          conn.pragma('busy_timeout = 5000');
          done(null, conn);
        },
      },
    });
  } else {
    knex = knexFactory({
      client: 'mysql2',
      log: quietKnexLog,
      connection: {
        host: target.host,
        port: target.port,
        user: target.user,
        password: target.password,
        database: target.database,
        charset: 'utf8mb4',
        connectTimeout: 5000,
        // Only the poller's read is a prepared execute() (see executePrepared); mysql2's default
        // statement cache (16,000 slots) would allocate about 0.5 MiB per pooled connection.
        maxPreparedStatements: PREPARED_STATEMENT_SLOTS,
        ...(target.socketPath ? { socketPath: target.socketPath } : {}),
        ...(target.ssl ? { ssl: {} } : {}),
      },
      pool: { min: 0, max: options.poolMax ?? 10 },
      acquireConnectionTimeout: options.acquireTimeoutMs ?? 10_000,
    });
  }
  let closed: Promise<void> | undefined;
  return {
    knex,
    client: target.client,
    prefix: options.prefix,
    t: tableNames(options.prefix),
    target,
    description: describeDbTarget(target),
    close: () => (closed ??= knex.destroy()),
  };
}

/** Maps a driver error to a one-line error with a hint; anything unrecognised keeps its message. */
export function databaseError(err: unknown, db: Pick<Database, 'description'>): TeampassWsError {
  if (err instanceof TeampassWsError) return err;
  const e = err as { code?: string; errno?: number; message?: string; sqlMessage?: string };
  const code = e.code ?? '';
  const where = db.description;
  switch (code) {
    case 'ECONNREFUSED':
      return new TeampassWsError('DB_CONNECT', `Cannot connect to the database at ${where}: connection refused.`, {
        suggestion: 'Start MariaDB/MySQL, or check the host and port.',
        cause: err,
      });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new TeampassWsError('DB_CONNECT', `Cannot connect to the database at ${where}: the host name does not resolve.`, {
        suggestion: 'Check the host in --db or in TeamPass settings.php (DB_HOST).',
        cause: err,
      });
    case 'ENOENT':
      return new TeampassWsError('DB_CONNECT', `Cannot connect to the database at ${where}: no such socket.`, {
        suggestion: 'Check the socket path, or use host:port.',
        cause: err,
      });
    case 'ER_DBACCESS_DENIED_ERROR': {
      // The login worked; MySQL answers alike for a database that is missing and one the user
      // may not use (it does not tell users without global grants which databases exist).
      const target = (db as Partial<Pick<Database, 'target'>>).target;
      const name = target?.client === 'mysql' ? target.database : 'named';
      const user = target?.client === 'mysql' ? target.user : 'this user';
      return new TeampassWsError('DB_UNKNOWN_DATABASE', `The database server at ${where} accepted the login, but the database ${name} does not exist, or the user ${user} has no privilege on it.`, {
        suggestion: `Check the database name (TeamPass's DB_NAME, db_name); if it is right, grant access: GRANT ALL ON \`${name}\`.* TO '${user}'@'<host>';`,
        cause: err,
      });
    }
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR':
      return new TeampassWsError('DB_AUTH', `The database refused the login at ${where}: access denied.`, {
        suggestion: 'Check the user and password (with --teampass-root: DB_USER and the key file that decrypts DB_PASSWD).',
        cause: err,
      });
    case 'ER_BAD_DB_ERROR':
      return new TeampassWsError('DB_UNKNOWN_DATABASE', `The database server at ${where} has no such database.`, {
        suggestion: "Check the database name (TeamPass's DB_NAME), or create it.",
        cause: err,
      });
    case 'ETIMEDOUT':
    case 'PROTOCOL_SEQUENCE_TIMEOUT':
      return new TeampassWsError('DB_TIMEOUT', `Timed out connecting to the database at ${where}.`, {
        suggestion: 'Check that the host is reachable and that no firewall drops the port.',
        cause: err,
      });
    case 'SQLITE_CANTOPEN':
      return new TeampassWsError('DB_CONNECT', `Cannot open the SQLite database ${where}.`, {
        suggestion: 'Check that the folder exists and is writable by this user.',
        cause: err,
      });
  }
  const message = e.sqlMessage ?? e.message ?? String(err);
  if (/Knex: Timeout acquiring a connection/.test(message)) {
    return new TeampassWsError('DB_TIMEOUT', `Timed out waiting for a database connection to ${where}.`, {
      suggestion: 'The database is unreachable or overloaded; check that it runs and accepts connections.',
      cause: err,
    });
  }
  return new TeampassWsError('DB_ERROR', `Database error at ${where}: ${message}`, {
    suggestion: 'See the database server log for details.',
    cause: err,
  });
}

/** Opens the database and proves it answers, turning a failure into a one-line error. */
export async function connectDatabase(target: DbTarget, options: DatabaseOptions): Promise<Database> {
  const db = createDatabase(target, options);
  try {
    await verifyDatabase(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return db;
}

/** The first query: throws the one-line error of `databaseError` when the database does not answer. */
export async function verifyDatabase(db: Database): Promise<void> {
  try {
    await db.knex.raw('select 1');
  } catch (err) {
    throw databaseError(err, db);
  }
}

/** The part of a pooled mysql2 connection executePrepared uses. */
interface PreparedRunner {
  execute(sql: string, values: unknown[], done: (err: Error | null, rows: unknown) => void): void;
}

/** The pool calls of knex's client that executePrepared uses. */
interface PooledClient {
  acquireConnection(): Promise<PreparedRunner>;
  releaseConnection(connection: PreparedRunner): Promise<void>;
}

/**
 * Runs one statement as a MariaDB prepared statement on a pooled connection, without knex's
 * query builder and runner: for a statement run several times a second whatever the load (the
 * poll), which then costs about half the CPU. The statement is prepared once per pooled
 * connection (mysql2 keeps it, PREPARED_STATEMENT_SLOTS). MariaDB and MySQL only.
 */
export async function executePrepared(db: Pick<Database, 'knex' | 'client'>, sql: string, values: unknown[]): Promise<Array<Record<string, unknown>>> {
  if (db.client !== 'mysql') throw new Error('executePrepared runs on MariaDB or MySQL only');
  const client = db.knex.client as PooledClient;
  const connection = await client.acquireConnection();
  try {
    return await new Promise((resolve, reject) => {
      connection.execute(sql, values, (err, rows) => (err ? reject(err) : resolve(rows as Array<Record<string, unknown>>)));
    });
  } finally {
    await client.releaseConnection(connection);
  }
}
