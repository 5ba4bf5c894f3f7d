import type { Knex } from 'knex';
import type { Database } from '../db/knex.js';
import type { EventRow } from '../db/rows.js';
import { now, unixSecondsSql } from '../db/sql.js';

/** What a locking look at missing ids found (see `probeGap`). */
export type GapProbe = 'in_flight' | 'absent' | 'committed' | 'unsupported';

const MARK_CHUNK = 500;

/** Every query the bridge runs against websocket_events. */
export class EventsRepository {
  private probeSupported: boolean;

  constructor(private readonly db: Database) {
    this.probeSupported = db.client === 'mysql';
  }

  private select(): Knex.QueryBuilder {
    const { knex, t } = this.db;
    return knex(t.events).select('id', 'event_type', 'target_type', 'target_id', 'payload', 'processed', knex.raw(`${unixSecondsSql(this.db, 'created_at')} as created_unix`));
  }

  /** Rows with afterId < id (<= upTo when given), oldest first. */
  async readAfter(afterId: number, limit: number, upTo?: number): Promise<EventRow[]> {
    const q = this.select().where('id', '>', afterId).orderBy('id', 'asc').limit(limit);
    if (upTo !== undefined) q.andWhere('id', '<=', upTo);
    return (await q) as EventRow[];
  }

  /** Rows whose id falls in any of the ranges, oldest first. */
  async readRanges(ranges: readonly { from: number; to: number }[]): Promise<EventRow[]> {
    if (ranges.length === 0) return [];
    const q = this.select().where((w) => {
      for (const r of ranges) w.orWhereBetween('id', [r.from, r.to]);
    });
    return (await q.orderBy('id', 'asc')) as EventRow[];
  }

  /**
   * The id the poller starts after: the newest row, or when the table is empty the last id the
   * table handed out (so the first new event does not look like it follows a gap).
   */
  async startId(): Promise<number> {
    const { knex, t } = this.db;
    const row = (await knex(t.events).max({ max: 'id' }).first()) as { max: number | null } | undefined;
    if (row?.max !== null && row?.max !== undefined) return Number(row.max);
    if (this.db.client === 'mysql') {
      // information_schema may lag (MySQL 8 caches it); a lower value only means a gap to resolve.
      const r = (await knex.raw('SELECT AUTO_INCREMENT AS next_id FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [t.events])) as [Array<{ next_id: number | null }>];
      const next = Number(r[0]?.[0]?.next_id ?? 1);
      return Math.max(0, next - 1);
    }
    const hasSequence = await knex.schema.hasTable('sqlite_sequence');
    if (!hasSequence) return 0;
    const seq = (await knex('sqlite_sequence').select('seq').where('name', t.events).first()) as { seq: number } | undefined;
    return Number(seq?.seq ?? 0);
  }

  /** The lowest and highest id still in the table (null when empty). */
  async bounds(): Promise<{ oldest: number | null; newest: number | null }> {
    const { knex, t } = this.db;
    const row = (await knex(t.events).min({ oldest: 'id' }).max({ newest: 'id' }).first()) as { oldest: number | null; newest: number | null } | undefined;
    return {
      oldest: row?.oldest === null || row?.oldest === undefined ? null : Number(row.oldest),
      newest: row?.newest === null || row?.newest === undefined ? null : Number(row.newest),
    };
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
          const r = (await trx.raw(`SELECT id FROM \`${t.events}\` WHERE id BETWEEN ? AND ? FOR UPDATE NOWAIT`, [from, to])) as [unknown[]];
          return r[0];
        },
        { isolationLevel: 'read committed' },
      );
      return rows.length > 0 ? 'committed' : 'absent';
    } catch (err) {
      const e = err as { errno?: number; code?: string };
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
