/**
 * The idle poll cost: an events table holding recent rows and many older retained ones, the
 * EXPLAIN of the poller's own query (EventsRepository.readAfter's), and the CPU time an idle
 * daemon (no clients, no new events) uses meanwhile.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import { EventsRepository } from '../../src/db/index.js';
import { CONFIG_KEYS } from '../../src/config/schema.js';
import type { Database } from '../../src/db/index.js';
import { startDaemon } from './daemon.js';
import { clockTicks, cpuSeconds } from './process-memory.js';

export interface IdlePollResult {
  recentRows: number;
  oldRows: number;
  query: string;
  explain: string[];
  /** Share of one core the idle daemon used (user + system time / wall time). */
  cpuShare: number;
  seconds: number;
  /** Statements the database ran per second meanwhile (null without MariaDB). */
  statementsPerSecond: number | null;
}

const SEED_CHUNK = 1000;

/** `rows` copies of one event shape, inserted by doubling INSERT … SELECT (quick even for millions). */
async function fill(db: Database, rows: number, processed: 0 | 1, ageSql: string): Promise<void> {
  const { knex, t } = db;
  if (rows === 0) return;
  const first = Math.min(rows, SEED_CHUNK);
  const created = knex.raw(ageSql);
  await knex.batchInsert(
    t.events,
    Array.from({ length: first }, (_, i) => ({ event_type: 'item_updated', target_type: 'folder', target_id: 1 + (i % 30), payload: JSON.stringify({ item_id: i, folder_id: 1 + (i % 30), label: 'retained' }), processed, processed_at: processed ? created : null, created_at: created })),
    SEED_CHUNK,
  );
  let have = first;
  while (have < rows) {
    const take = Math.min(have, rows - have);
    await knex.raw(
      `INSERT INTO ${t.events} (event_type, target_type, target_id, payload, processed, processed_at, created_at) SELECT event_type, target_type, target_id, payload, processed, processed_at, created_at FROM ${t.events} WHERE processed = ? LIMIT ?`,
      [processed, take],
    );
    have += take;
  }
}

/**
 * The SQL text (and bindings) of the poller's read after the newest id, without changing a byte
 * of it: on MariaDB the prepared statement it executes, on SQLite the query caught on its way.
 */
async function pollerQuery(db: Database): Promise<{ sql: string; bindings: readonly Knex.Value[] }> {
  const repo = new EventsRepository(db);
  const cursor = await repo.startId();
  if (db.client === 'mysql') return { sql: repo.pollSql(CONFIG_KEYS.poll_batch_size.default), bindings: [cursor] };
  let caught: { sql: string; bindings: readonly Knex.Value[] } | undefined;
  const listen = (q: { sql: string; bindings?: readonly Knex.Value[] }) => {
    caught ??= { sql: q.sql, bindings: q.bindings ?? [] };
  };
  db.knex.on('query', listen);
  try {
    await repo.readAfter(cursor, CONFIG_KEYS.poll_batch_size.default);
  } finally {
    db.knex.off('query', listen);
  }
  if (!caught) throw new Error('the poller query was not seen on its way to the database');
  return caught;
}

async function explain(db: Database, q: { sql: string; bindings: readonly Knex.Value[] }): Promise<string[]> {
  if (db.client === 'mysql') {
    const [rows] = (await db.knex.raw(`EXPLAIN ${q.sql}`, q.bindings)) as [Array<Record<string, unknown>>];
    const cols = ['table', 'type', 'possible_keys', 'key', 'key_len', 'rows', 'Extra'];
    return [cols.join(' | '), ...rows.map((r) => cols.map((c) => String(r[c] ?? 'NULL')).join(' | '))];
  }
  const rows = (await db.knex.raw(`EXPLAIN QUERY PLAN ${q.sql}`, q.bindings)) as Array<{ detail: string }>;
  return rows.map((r) => r.detail);
}

export async function idlePollCost(db: Database, dbUrl: string, o: { recentRows: number; oldRows: number; seconds: number; sqlStatements?: () => Promise<number> }): Promise<IdlePollResult> {
  const mysql = db.client === 'mysql';
  await fill(db, o.oldRows, 1, mysql ? 'CURRENT_TIMESTAMP - INTERVAL 2 HOUR' : `datetime('now', '-2 hours')`);
  await fill(db, o.recentRows, 0, mysql ? 'CURRENT_TIMESTAMP' : `datetime('now')`);
  const q = await pollerQuery(db);
  const plan = await explain(db, q);
  const d = await startDaemon(dbUrl);
  try {
    await sleep(3000);
    const ticks = clockTicks();
    const sqlBefore = await o.sqlStatements?.();
    const cpuBefore = cpuSeconds(d.pid, ticks);
    const t0 = Date.now();
    await sleep(o.seconds * 1000);
    const cpuAfter = cpuSeconds(d.pid, ticks);
    const wall = (Date.now() - t0) / 1000;
    const sqlAfter = await o.sqlStatements?.();
    return {
      recentRows: o.recentRows,
      oldRows: o.oldRows,
      query: q.sql,
      explain: plan,
      cpuShare: (cpuAfter - cpuBefore) / wall,
      seconds: wall,
      statementsPerSecond: sqlBefore !== undefined && sqlAfter !== undefined ? (sqlAfter - sqlBefore) / wall : null,
    };
  } finally {
    await d.cli.stop();
  }
}
