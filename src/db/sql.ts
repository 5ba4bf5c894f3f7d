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

/** Rows per DELETE: short statements keep producers' INSERTs from waiting on the cleanup's locks. */
const DELETE_CHUNK = 1000;

/** Deletes the rows `where` selects, a chunk per statement, until none is left or `stopped()`; the number deleted. */
export async function deleteChunked(db: Database, table: string, where: (q: Knex.QueryBuilder) => Knex.QueryBuilder, stopped: () => boolean): Promise<number> {
  const { knex } = db;
  let total = 0;
  for (;;) {
    let deleted: number;
    if (db.client === 'mysql') {
      deleted = await where(knex(table)).limit(DELETE_CHUNK).del();
    } else {
      // SQLite's DELETE takes no LIMIT unless compiled with it.
      deleted = await knex(table)
        .whereIn('id', where(knex(table).select('id')).limit(DELETE_CHUNK))
        .del();
    }
    total += deleted;
    if (deleted < DELETE_CHUNK || stopped()) return total;
  }
}
