import { ConnectionsRepository, EventsRepository, TokensRepository, type Database } from '../db/index.js';
import type { Logger } from '../log/index.js';

export interface CleanupResult {
  events: number;
  tokens: number;
  connections: number;
}

/**
 * Deletes what nobody needs any more, with the time arithmetic in SQL: processed events and
 * closed connection rows older than event_retention_hours, and websocket tokens past expires_at.
 */
export class Cleanup {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  private readonly events: EventsRepository;
  private readonly tokens: TokensRepository;
  private readonly connections: ConnectionsRepository;

  constructor(
    db: Database,
    private readonly opts: { retentionHours: number; intervalSec: number },
    private readonly logger: Logger,
  ) {
    this.events = new EventsRepository(db);
    this.tokens = new TokensRepository(db);
    this.connections = new ConnectionsRepository(db);
  }

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
    const retentionSec = this.opts.retentionHours * 3600;
    const stopped = () => this.stopped;
    const events = await this.events.deleteProcessedOlderThan(retentionSec, stopped);
    const tokens = await this.tokens.deleteExpired(stopped);
    const connections = await this.connections.deleteClosedOlderThan(retentionSec, stopped);
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
}
