import type { Knex } from 'knex';
import type { Database } from '../db/knex.js';
import { now, nowPlusSeconds } from '../db/sql.js';
import type { Logger } from '../log/index.js';

export interface CleanupResult {
  events: number;
  tokens: number;
  connections: number;
}

/** Rows per DELETE: short statements keep producers' INSERTs from waiting on the cleanup's locks. */
const CHUNK = 1000;

/**
 * Deletes what nobody needs any more, with the time arithmetic in SQL: processed events and
 * closed connection rows older than event_retention_hours, and websocket tokens past expires_at.
 */
export class Cleanup {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly opts: { retentionHours: number; intervalSec: number },
    private readonly logger: Logger,
  ) {}

  /** Runs once now, then every intervalSec. */
  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.opts.intervalSec * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  async runOnce(): Promise<CleanupResult> {
    const { t } = this.db;
    const cutoff = () => nowPlusSeconds(this.db, -this.opts.retentionHours * 3600);
    const events = await this.deleteChunked(t.events, (q) => q.where('processed', 1).whereNotNull('processed_at').andWhere('processed_at', '<', cutoff()));
    const tokens = await this.deleteChunked(t.tokens, (q) => q.where('expires_at', '<', now(this.db)));
    const connections = await this.deleteChunked(t.connections, (q) => q.whereNotNull('disconnected_at').andWhere('disconnected_at', '<', cutoff()));
    return { events, tokens, connections };
  }

  private tick(): void {
    if (this.stopped || this.running) return;
    this.running = this.runOnce()
      .then((r) => {
        if (r.events + r.tokens + r.connections > 0) this.logger.info('Cleaned up old rows', { ...r });
      })
      .catch((err: Error) => this.logger.warn('Cleanup failed; it runs again at the next interval', { error: err.message }))
      .finally(() => {
        this.running = undefined;
      });
  }

  private async deleteChunked(table: string, where: (q: Knex.QueryBuilder) => Knex.QueryBuilder): Promise<number> {
    const { knex } = this.db;
    let total = 0;
    for (;;) {
      let deleted: number;
      if (this.db.client === 'mysql') {
        deleted = await where(knex(table)).limit(CHUNK).del();
      } else {
        deleted = await knex(table)
          .whereIn('id', where(knex(table).select('id')).limit(CHUNK))
          .del();
      }
      total += deleted;
      if (deleted < CHUNK || this.stopped) return total;
    }
  }
}
