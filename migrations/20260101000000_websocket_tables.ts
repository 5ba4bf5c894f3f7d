import type { Database } from '../src/db/knex.js';
import { indexColumns, mysqlColumnType, quoteIdent, tableExists } from './inspect.js';
import type { WsMigration } from './types.js';

const MYSQL_TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci';

interface IndexSpec {
  name: string;
  columns: string[];
  unique?: boolean;
}

interface TableSpec {
  logical: 'events' | 'connections' | 'tokens';
  mysqlColumns: string[];
  sqliteColumns: string[];
  indexes: IndexSpec[];
  comment: string;
}

// Column shapes are TeamPass's installer's, so TeamPass's own code and health page see no difference.
const TABLES: TableSpec[] = [
  {
    logical: 'events',
    mysqlColumns: [
      '`id` INT UNSIGNED AUTO_INCREMENT PRIMARY KEY',
      '`created_at` TIMESTAMP DEFAULT CURRENT_TIMESTAMP',
      '`event_type` VARCHAR(50) NOT NULL',
      "`target_type` ENUM('user', 'folder', 'kb', 'broadcast') NOT NULL",
      '`target_id` INT UNSIGNED NULL',
      '`payload` JSON NOT NULL',
      '`processed` TINYINT(1) UNSIGNED DEFAULT 0',
      '`processed_at` TIMESTAMP NULL',
    ],
    sqliteColumns: [
      '"id" INTEGER PRIMARY KEY AUTOINCREMENT',
      '"created_at" TIMESTAMP DEFAULT CURRENT_TIMESTAMP',
      '"event_type" VARCHAR(50) NOT NULL',
      `"target_type" TEXT NOT NULL CHECK ("target_type" IN ('user', 'folder', 'kb', 'broadcast'))`,
      '"target_id" INTEGER NULL',
      '"payload" TEXT NOT NULL',
      '"processed" INTEGER DEFAULT 0',
      '"processed_at" TIMESTAMP NULL',
    ],
    indexes: [
      { name: 'idx_unprocessed', columns: ['processed', 'created_at'] },
      { name: 'idx_cleanup', columns: ['processed', 'processed_at'] },
    ],
    comment: 'WebSocket events queue for real-time notifications',
  },
  {
    logical: 'connections',
    mysqlColumns: [
      '`id` INT UNSIGNED AUTO_INCREMENT PRIMARY KEY',
      '`user_id` INT UNSIGNED NOT NULL',
      '`resource_id` VARCHAR(50) NOT NULL',
      '`connected_at` TIMESTAMP DEFAULT CURRENT_TIMESTAMP',
      '`disconnected_at` TIMESTAMP NULL',
      '`ip_address` VARCHAR(45) NULL',
      '`user_agent` TEXT NULL',
    ],
    sqliteColumns: [
      '"id" INTEGER PRIMARY KEY AUTOINCREMENT',
      '"user_id" INTEGER NOT NULL',
      '"resource_id" VARCHAR(50) NOT NULL',
      '"connected_at" TIMESTAMP DEFAULT CURRENT_TIMESTAMP',
      '"disconnected_at" TIMESTAMP NULL',
      '"ip_address" VARCHAR(45) NULL',
      '"user_agent" TEXT NULL',
    ],
    indexes: [
      { name: 'idx_user', columns: ['user_id'] },
      { name: 'idx_active', columns: ['disconnected_at'] },
      { name: 'idx_resource', columns: ['resource_id'] },
    ],
    comment: 'WebSocket connection tracking for monitoring',
  },
  {
    logical: 'tokens',
    mysqlColumns: [
      '`id` INT UNSIGNED AUTO_INCREMENT PRIMARY KEY',
      '`user_id` INT UNSIGNED NOT NULL',
      '`token` VARCHAR(64) NOT NULL',
      '`created_at` TIMESTAMP DEFAULT CURRENT_TIMESTAMP',
      '`expires_at` TIMESTAMP NOT NULL',
      '`used` TINYINT(1) UNSIGNED DEFAULT 0',
    ],
    sqliteColumns: [
      '"id" INTEGER PRIMARY KEY AUTOINCREMENT',
      '"user_id" INTEGER NOT NULL',
      '"token" VARCHAR(64) NOT NULL',
      '"created_at" TIMESTAMP DEFAULT CURRENT_TIMESTAMP',
      '"expires_at" TIMESTAMP NOT NULL',
      '"used" INTEGER DEFAULT 0',
    ],
    indexes: [
      { name: 'idx_token', columns: ['token'], unique: true },
      { name: 'idx_user', columns: ['user_id'] },
      { name: 'idx_expires', columns: ['expires_at'] },
    ],
    comment: 'WebSocket authentication tokens',
  },
];

/** SQLite index names are global to the database, MySQL's are per table. */
function indexName(db: Database, table: string, index: IndexSpec): string {
  return db.client === 'mysql' ? index.name : `${table}_${index.name}`;
}

function createIndexSql(db: Database, table: string, index: IndexSpec): string {
  const q = (n: string) => quoteIdent(db, n);
  const cols = index.columns.map(q).join(', ');
  const kind = index.unique ? 'UNIQUE INDEX' : 'INDEX';
  return db.client === 'mysql'
    ? `ALTER TABLE ${q(table)} ADD ${kind} ${q(index.name)} (${cols})`
    : `CREATE ${kind} IF NOT EXISTS ${q(indexName(db, table, index))} ON ${q(table)} (${cols})`;
}

function createTableSql(db: Database, table: string, spec: TableSpec): string[] {
  const q = (n: string) => quoteIdent(db, n);
  if (db.client === 'mysql') {
    const indexes = spec.indexes.map((i) => `${i.unique ? 'UNIQUE INDEX' : 'INDEX'} ${q(i.name)} (${i.columns.map(q).join(', ')})`);
    const comment = spec.comment.replace(/'/g, "''");
    return [`CREATE TABLE IF NOT EXISTS ${q(table)} (\n  ${[...spec.mysqlColumns, ...indexes].join(',\n  ')}\n) ${MYSQL_TABLE_OPTIONS} COMMENT='${comment}'`];
  }
  return [
    `CREATE TABLE IF NOT EXISTS ${q(table)} (\n  ${spec.sqliteColumns.join(',\n  ')}\n)`,
    ...spec.indexes.map((i) => createIndexSql(db, table, i)),
  ];
}

/** Statements that bring a table TeamPass's installer (3.1 or 3.2) already created to this shape. */
async function adoptTableSql(db: Database, table: string, spec: TableSpec): Promise<string[]> {
  const q = (n: string) => quoteIdent(db, n);
  const out: string[] = [];
  if (spec.logical === 'events' && db.client === 'mysql') {
    const type = (await mysqlColumnType(db, table, 'target_type')) ?? '';
    if (!/'kb'/.test(type)) {
      // TeamPass 3.1 created the enum without 'kb'; MODIFY keeps every existing row.
      out.push(`ALTER TABLE ${q(table)} MODIFY ${q('target_type')} ENUM('user', 'folder', 'kb', 'broadcast') NOT NULL`);
    }
  }
  const existing = await indexColumns(db, table);
  for (const index of spec.indexes) {
    const name = indexName(db, table, index);
    const cols = existing.get(name);
    if (cols && cols.join(',') === index.columns.join(',')) continue;
    if (cols) {
      // An early TeamPass draft built idx_cleanup on the wrong columns; rebuild it.
      out.push(db.client === 'mysql' ? `ALTER TABLE ${q(table)} DROP INDEX ${q(name)}` : `DROP INDEX IF EXISTS ${q(name)}`);
    }
    out.push(createIndexSql(db, table, index));
  }
  return out;
}

export const websocketTables: WsMigration = {
  name: '20260101000000_websocket_tables',
  description: 'websocket_events, websocket_connections and websocket_tokens in TeamPass\'s shape (adopting existing ones)',
  async planUp(db) {
    const out: string[] = [];
    for (const spec of TABLES) {
      const table = db.t[spec.logical];
      out.push(...((await tableExists(db, table)) ? await adoptTableSql(db, table, spec) : createTableSql(db, table, spec)));
    }
    return out;
  },
  async planDown(db) {
    return TABLES.map((spec) => `DROP TABLE IF EXISTS ${quoteIdent(db, db.t[spec.logical])}`);
  },
};
