import { ConnectionsRepository, type Database } from '../db/index.js';
import type { Logger } from '../log/index.js';

const MAX_USER_AGENT = 1000;

export interface OpenedConnection {
  userId: number;
  resourceId: string;
  ip: string;
  userAgent: string;
}

/**
 * websocket_connections rows: one per authenticated connection, closed with disconnected_at.
 * A failed write is logged, never fatal: auditing must not take connections down with it.
 * Writes in flight are tracked so shutdown can wait for them.
 */
export class ConnectionAudit {
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly rows: ConnectionsRepository;

  constructor(
    db: Database,
    private readonly logger: Logger,
  ) {
    this.rows = new ConnectionsRepository(db);
  }

  opened(c: OpenedConnection): Promise<number | null> {
    return this.track(
      this.rows
        .open({
          userId: c.userId,
          resourceId: c.resourceId.slice(0, 50),
          ip: c.ip.slice(0, 45) || null,
          userAgent: c.userAgent.slice(0, MAX_USER_AGENT) || null,
        })
        .catch((err: Error) => {
          this.logger.error('Could not record a connection in websocket_connections', { resource_id: c.resourceId, error: err.message });
          return null;
        }),
    );
  }

  closed(rowId: number | Promise<number | null> | null): Promise<void> {
    return this.track(
      Promise.resolve(rowId).then(async (id) => {
        if (id === null) return;
        try {
          await this.rows.close(id);
        } catch (err) {
          this.logger.error('Could not mark a connection disconnected in websocket_connections', { row_id: id, error: (err as Error).message });
        }
      }),
    );
  }

  /**
   * Closes the rows a previous run of the same instance left open (it crashed, or lost the
   * database while stopping). Resource ids are `<instance>-<n>`, so other daemons sharing the
   * table keep theirs.
   */
  async closeLeftOpen(instanceId: string): Promise<number> {
    return this.rows.closeOpenWithResourcePrefix(`${instanceId}-`);
  }

  /**
   * Whether the user still has an open row, through this daemon or another one sharing the
   * table: a user's "last connection" is cluster-wide.
   */
  async hasOpenConnection(userId: number): Promise<boolean> {
    return this.rows.hasOpen(userId);
  }

  /** Waits for every write started so far. */
  async settle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Other shutdown-relevant writes (lock release) are awaited with these. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.inflight.add(promise);
    promise.finally(() => this.inflight.delete(promise)).catch(() => undefined);
    return promise;
  }
}
