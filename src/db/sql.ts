import type { Knex } from 'knex';
import type { Database } from './knex.js';

/**
 * Time arithmetic stays in SQL: TIMESTAMP columns are read and written in the server's session
 * time zone (MySQL) or as UTC text (SQLite), so JavaScript Dates would skew them.
 */
export function nowPlusSeconds(db: Database, seconds: number): Knex.Raw {
  const s = Math.trunc(seconds);
  return db.client === 'mysql'
    ? db.knex.raw('DATE_ADD(CURRENT_TIMESTAMP, INTERVAL ? SECOND)', [s])
    : db.knex.raw(`datetime('now', ?)`, [`${s >= 0 ? '+' : ''}${s} seconds`]);
}

export function now(db: Database): Knex.Raw {
  return db.client === 'mysql' ? db.knex.raw('CURRENT_TIMESTAMP') : db.knex.raw(`datetime('now')`);
}

/** SQL for a TIMESTAMP column as unix seconds. `column` must be a trusted identifier. */
export function unixSecondsSql(db: Database, column: string): string {
  return db.client === 'mysql' ? `UNIX_TIMESTAMP(${column})` : `CAST(strftime('%s', ${column}) AS INTEGER)`;
}
