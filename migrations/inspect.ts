import type { Database } from '../src/db/knex.js';

export async function tableExists(db: Database, table: string): Promise<boolean> {
  return db.knex.schema.hasTable(table);
}

/** Index name → its columns in order. */
export async function indexColumns(db: Database, table: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (db.client === 'mysql') {
    const [rows] = (await db.knex.raw('SHOW INDEX FROM ??', [table])) as [Array<{ Key_name: string; Column_name: string; Seq_in_index: number }>];
    for (const row of [...rows].sort((a, b) => a.Seq_in_index - b.Seq_in_index)) {
      out.set(row.Key_name, [...(out.get(row.Key_name) ?? []), row.Column_name]);
    }
  } else {
    const list = (await db.knex.raw(`PRAGMA index_list(${quoteSqlite(table)})`)) as Array<{ name: string }>;
    for (const idx of list) {
      const cols = (await db.knex.raw(`PRAGMA index_info(${quoteSqlite(idx.name)})`)) as Array<{ seqno: number; name: string }>;
      out.set(idx.name, cols.sort((a, b) => a.seqno - b.seqno).map((c) => c.name));
    }
  }
  return out;
}

/** MySQL's COLUMN_TYPE for a column, e.g. "enum('user','folder','broadcast')". */
export async function mysqlColumnType(db: Database, table: string, column: string): Promise<string | undefined> {
  const [rows] = (await db.knex.raw(
    'SELECT COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?',
    [table, column],
  )) as [Array<{ t: string }>];
  return rows[0]?.t;
}

export function quoteSqlite(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteMysql(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

export function quoteIdent(db: Database, name: string): string {
  return db.client === 'mysql' ? quoteMysql(name) : quoteSqlite(name);
}
