import { ConnectionsRepository, StatementBatch, type Database, type NewConnection } from '../db/index.js';
import { RepeatedFailureLog, type Logger } from '../log/index.js';

const MAX_USER_AGENT = 1000;

export interface OpenedConnection {
  userId: number;
  resourceId: string;
  ip: string;
  userAgent: string;
}

/** How long opened and closed rows wait to be written together, and at most how many go in one statement. */
const BATCH_WINDOW_MS = 5;
const BATCH_MAX_ROWS = 500;

/**
 * A connection's row: its resource id (unique among open rows), and whether it was written —
 * a promise while the INSERT is under way, then the answer (the promise is not kept for the
 * connection's lifetime).
 */
export interface AuditRow {
  written: Promise<boolean> | boolean;
  readonly resourceId: string;
}

/**
 * websocket_connections rows: one per authenticated connection, closed with disconnected_at.
 * Rows opened (and closed) within a few milliseconds are written in one multi-row INSERT (one
 * UPDATE), so a connect storm costs a handful of statements, not one per connection; a row is
 * closed by its resource id, which needs no id back from the INSERT.
 * A failed write is logged, never fatal: auditing must not take connections down with it.
 * Writes in flight are tracked so shutdown can wait for them.
 */
export class ConnectionAudit {
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly rows: ConnectionsRepository;
  private readonly opens: StatementBatch<NewConnection, void>;
  private readonly closes: StatementBatch<string, void>;
  private readonly openUsers: StatementBatch<number, boolean>;
  /** A database outage fails every connection's write: one line a minute each, with a count. */
  private readonly openFailures: RepeatedFailureLog;
  private readonly closeFailures: RepeatedFailureLog;

  constructor(
    db: Database,
    logger: Logger,
  ) {
    this.rows = new ConnectionsRepository(db);
    this.openFailures = new RepeatedFailureLog(logger, 'Could not record a connection in websocket_connections');
    this.closeFailures = new RepeatedFailureLog(logger, 'Could not mark a connection disconnected in websocket_connections');
    this.opens = new StatementBatch(async (rows) => {
      await this.rows.openMany(rows);
      return rows.map(() => undefined);
    }, BATCH_WINDOW_MS, BATCH_MAX_ROWS);
    this.closes = new StatementBatch(async (ids) => {
      await this.rows.closeByResourceIds(ids);
      return ids.map(() => undefined);
    }, BATCH_WINDOW_MS, BATCH_MAX_ROWS);
    this.openUsers = new StatementBatch(async (userIds) => {
      const open = await this.rows.usersWithOpenRows(userIds);
      return userIds.map((id) => open.has(id));
    }, BATCH_WINDOW_MS, BATCH_MAX_ROWS);
  }

  opened(c: OpenedConnection): AuditRow {
    const resourceId = c.resourceId.slice(0, 50);
    const row = { userId: c.userId, resourceId, ip: c.ip.slice(0, 45) || null, userAgent: c.userAgent.slice(0, MAX_USER_AGENT) || null };
    const audit: AuditRow = { written: true, resourceId };
    audit.written = this.track(
      this.opens.add(row).then(
        () => (audit.written = true),
        (err: Error) => {
          this.openFailures.failed({ resource_id: c.resourceId, error: err.message });
          return (audit.written = false);
        },
      ),
    );
    return audit;
  }

  closed(row: AuditRow | null): Promise<void> {
    if (!row || row.written === false) return Promise.resolve();
    return this.track(
      Promise.resolve(row.written).then(async (written) => {
        if (!written) return;
        try {
          await this.closes.add(row.resourceId);
        } catch (err) {
          this.closeFailures.failed({ resource_id: row.resourceId, error: (err as Error).message });
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
   * table: a user's "last connection" is cluster-wide. The users whose last connection closes
   * within a few milliseconds (a storm's disconnects) are looked up in one statement.
   */
  hasOpenConnection(userId: number): Promise<boolean> {
    return this.openUsers.add(userId);
  }

  /** Waits for every write started so far (queued ones are written now). */
  async settle(): Promise<void> {
    this.opens.flush();
    this.closes.flush();
    this.openUsers.flush();
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Other shutdown-relevant writes (lock release) are awaited with these. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.inflight.add(promise);
    promise.finally(() => this.inflight.delete(promise)).catch(() => undefined);
    return promise;
  }
}
