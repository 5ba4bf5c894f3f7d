import type { Knex } from 'knex';
import { executePrepared, type Database } from './knex.js';
import type { EventRow, TargetType } from './rows.js';
import { deleteChunked, now, nowPlusSeconds, unixSecondsSql } from './sql.js';
import { driverError, insertedId, toNullableNumber } from './values.js';

/** What a locking look at missing ids found (see `probeGap`). */
export type GapProbe = 'in_flight' | 'absent' | 'committed' | 'unsupported';

/** A row to write, as TeamPass's producer writes it. */
export interface NewEvent {
  eventType: string;
  targetType: TargetType;
  targetId: number | null;
  /** JSON text. */
  payload: string;
}

const MARK_CHUNK = 500;

/** The targets whose events one replay reads: a user's own, broadcasts, kb, some folders. */
export interface ReplayTargets {
  userId?: number;
  broadcast: boolean;
  kb: boolean;
  folderIds: readonly number[];
}

/**
 * The payload as JSON text. mysql2 hands JSON columns over parsed (MySQL, and MariaDB when it
 * flags the column as JSON); SQLite and older MariaDB tables hand over text (or a Buffer).
 */
export function payloadText(payload: unknown): string | null {
  if (payload === null || payload === undefined) return null;
  if (typeof payload === 'string') return payload;
  if (Buffer.isBuffer(payload)) return payload.toString();
  return JSON.stringify(payload);
}

/** A websocket_events row as either driver returns it, made an EventRow. */
export function toEventRow(raw: Record<string, unknown>): EventRow {
  return {
    id: Number(raw.id),
    event_type: typeof raw.event_type === 'string' ? raw.event_type : String(raw.event_type ?? ''),
    target_type: String(raw.target_type ?? ''),
    target_id: toNullableNumber(raw.target_id),
    payload: payloadText(raw.payload),
    processed: Number(raw.processed ?? 0),
    created_unix: Number(raw.created_unix),
  };
}

/** Every query against websocket_events: the poller's, recovery's, cleanup's and emit's. */
export class EventsRepository {
  private probeSupported: boolean;
  /** The poll's statement on MariaDB, built once by the query builder (see readAfter). */
  private pollStatement: { sql: string; limit: number } | undefined;

  constructor(private readonly db: Database) {
    this.probeSupported = db.client === 'mysql';
  }

  async tableExists(): Promise<boolean> {
    return this.db.knex.schema.hasTable(this.db.t.events);
  }

  private select(): Knex.QueryBuilder {
    const { knex, t } = this.db;
    return knex(t.events).select('id', 'event_type', 'target_type', 'target_id', 'payload', 'processed', knex.raw(`${unixSecondsSql(this.db, 'created_at')} as created_unix`));
  }

  /** Rows with afterId < id (<= upTo when given), oldest first. */
  async readAfter(afterId: number, limit: number, upTo?: number): Promise<EventRow[]> {
    // The poll runs five times a second, idle or not: on MariaDB it is a prepared statement.
    if (upTo === undefined && this.db.client === 'mysql') return (await executePrepared(this.db, this.pollSql(limit), [afterId])).map(toEventRow);
    const q = this.select().where('id', '>', afterId).orderBy('id', 'asc').limit(limit);
    if (upTo !== undefined) q.andWhere('id', '<=', upTo);
    const rows: Array<Record<string, unknown>> = await q;
    return rows.map(toEventRow);
  }

  /**
   * The poll's SQL text on MariaDB (one `?`, the id to read after), with the batch size written
   * in: a LIMIT placeholder would be sent as a double.
   */
  pollSql(limit: number): string {
    if (this.pollStatement?.limit !== limit) {
      const { sql } = this.select().where('id', '>', 0).orderBy('id', 'asc').limit(limit).toSQL().toNative();
      this.pollStatement = { sql: sql.replace(/limit \?$/i, `limit ${Math.floor(limit)}`), limit };
    }
    return this.pollStatement.sql;
  }

  /**
   * The rows a replay may deliver, afterId < id <= upTo, oldest first: only the targets named,
   * so a replay never reads (and the database never sends) the payloads of other users' or
   * other folders' events.
   */
  async readAfterFor(afterId: number, limit: number, upTo: number, targets: ReplayTargets): Promise<EventRow[]> {
    const { userId, broadcast, folderIds, kb } = targets;
    if (userId === undefined && !broadcast && !kb && folderIds.length === 0) return [];
    const q = this.select()
      .where('id', '>', afterId)
      .andWhere('id', '<=', upTo)
      .andWhere((w) => {
        if (userId !== undefined) w.orWhere((u) => u.where('target_type', 'user').andWhere('target_id', userId));
        if (broadcast) w.orWhere('target_type', 'broadcast');
        if (kb) w.orWhere('target_type', 'kb');
        if (folderIds.length > 0) w.orWhere((f) => f.where('target_type', 'folder').whereIn('target_id', [...folderIds]));
      })
      .orderBy('id', 'asc')
      .limit(limit);
    const rows: Array<Record<string, unknown>> = await q;
    return rows.map(toEventRow);
  }

  /** Rows whose id falls in any of the ranges, oldest first. */
  async readRanges(ranges: readonly { from: number; to: number }[]): Promise<EventRow[]> {
    if (ranges.length === 0) return [];
    const q = this.select().where((w) => {
      for (const r of ranges) w.orWhereBetween('id', [r.from, r.to]);
    });
    const rows: Array<Record<string, unknown>> = await q.orderBy('id', 'asc');
    return rows.map(toEventRow);
  }

  /**
   * The id the poller starts after: the newest row, or when the table is empty the last id the
   * table handed out (so the first new event does not look like it follows a gap).
   */
  async startId(): Promise<number> {
    const { knex, t } = this.db;
    const row: { max?: unknown } | undefined = await knex(t.events).max({ max: 'id' }).first();
    const newest = toNullableNumber(row?.max);
    if (newest !== null) return newest;
    if (this.db.client === 'mysql') {
      // information_schema may lag (MySQL 8 caches it); a lower value only means a gap to resolve.
      const [rows = []]: Array<Array<{ next_id: unknown }>> = await knex.raw(
        'SELECT AUTO_INCREMENT AS next_id FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
        [t.events],
      );
      const next = Number(rows[0]?.next_id ?? 1);
      return Math.max(0, next - 1);
    }
    if (!(await knex.schema.hasTable('sqlite_sequence'))) return 0;
    const seq: { seq: unknown } | undefined = await knex('sqlite_sequence').select('seq').where('name', t.events).first();
    return Number(seq?.seq ?? 0);
  }

  /** The lowest and highest id still in the table (null when empty). */
  async bounds(): Promise<{ oldest: number | null; newest: number | null }> {
    const { knex, t } = this.db;
    const row: { oldest?: unknown; newest?: unknown } | undefined = await knex(t.events).min({ oldest: 'id' }).max({ newest: 'id' }).first();
    return { oldest: toNullableNumber(row?.oldest), newest: toNullableNumber(row?.newest) };
  }

  /** Writes the rows in one transaction, as TeamPass's producer does: all of them or none. Their ids, in order. */
  async insertAll(events: readonly NewEvent[]): Promise<number[]> {
    const { knex, t } = this.db;
    return knex.transaction(async (trx) => {
      const ids: number[] = [];
      for (const e of events) {
        const result: unknown = await trx(t.events).insert({ event_type: e.eventType, target_type: e.targetType, target_id: e.targetId, payload: e.payload, processed: 0 });
        ids.push(insertedId(result));
      }
      return ids;
    });
  }

  /** Those of `ids` still in the table and not yet processed (cleanup only removes processed rows). */
  async unprocessedAmong(ids: readonly number[]): Promise<number[]> {
    const rows: Array<{ id: unknown; processed: unknown }> = await this.db.knex(this.db.t.events).whereIn('id', [...ids]).select('id', 'processed');
    return rows.filter((r) => Number(r.processed) !== 1).map((r) => Number(r.id));
  }

  /** processed = 1 for TeamPass's own tooling; rows another daemon already marked keep their time. */
  async markProcessed(ids: readonly number[]): Promise<void> {
    const { knex, t } = this.db;
    for (let i = 0; i < ids.length; i += MARK_CHUNK) {
      const chunk = ids.slice(i, i + MARK_CHUNK);
      await knex(t.events)
        .update({ processed: 1, processed_at: now(this.db) })
        .whereIn('id', chunk)
        .andWhere((q) => q.where('processed', 0).orWhereNull('processed'));
    }
  }

  /** Rows left unprocessed while no daemon ran: nobody will be sent them live any more. */
  async markProcessedUpTo(id: number): Promise<number> {
    const { knex, t } = this.db;
    return knex(t.events)
      .update({ processed: 1, processed_at: now(this.db) })
      .where('id', '<=', id)
      .andWhere((q) => q.where('processed', 0).orWhereNull('processed'));
  }

  /** Deletes processed rows processed more than `ageSec` ago, in short chunks; the number deleted. */
  async deleteProcessedOlderThan(ageSec: number, stopped: () => boolean): Promise<number> {
    return deleteChunked(this.db, this.db.t.events, (q) => q.where('processed', 1).whereNotNull('processed_at').andWhere('processed_at', '<', nowPlusSeconds(this.db, -ageSec)), stopped);
  }

  /**
   * Tells whether missing ids from..to may still commit. InnoDB writes an inserted row into the
   * primary key at once, locked by its open transaction: a NOWAIT locking read fails on such a row,
   * returns it when it has committed, and returns nothing when the id was rolled back or never
   * used. READ COMMITTED keeps the read from taking gap locks that would block producers' INSERTs.
   * SQLite has one writer and its ids become visible in order: an id missing below a visible one
   * never commits later, so it is absent.
   */
  async probeGap(from: number, to: number): Promise<GapProbe> {
    if (this.db.client !== 'mysql') return 'absent';
    if (!this.probeSupported) return 'unsupported';
    const { knex, t } = this.db;
    try {
      const rows = await knex.transaction(
        async (trx) => {
          const [found = []]: unknown[][] = await trx.raw(`SELECT id FROM \`${t.events}\` WHERE id BETWEEN ? AND ? FOR UPDATE NOWAIT`, [from, to]);
          return found;
        },
        { isolationLevel: 'read committed' },
      );
      return rows.length > 0 ? 'committed' : 'absent';
    } catch (err) {
      const e = driverError(err);
      // 1205 lock wait timeout (MariaDB's NOWAIT), 3572 ER_LOCK_NOWAIT (MySQL 8), 1213 deadlock.
      if (e.errno === 1205 || e.errno === 3572 || e.errno === 1213) return 'in_flight';
      // MySQL 5.7 has no NOWAIT: the ids stay watched until gap_grace_ms.
      if (e.errno === 1064 || e.code === 'ER_PARSE_ERROR') {
        this.probeSupported = false;
        return 'unsupported';
      }
      throw err;
    }
  }
}
