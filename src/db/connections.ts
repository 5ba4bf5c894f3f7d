import type { Database } from './knex.js';
import { deleteChunked, now, nowPlusSeconds } from './sql.js';
import { insertedId } from './values.js';

/** A websocket_connections row as it is opened. */
export interface NewConnection {
  userId: number;
  /** `<instance>-<n>`, at most 50 characters. */
  resourceId: string;
  ip: string | null;
  userAgent: string | null;
}

/** websocket_connections: one row per authenticated connection, closed with disconnected_at. */
export class ConnectionsRepository {
  constructor(private readonly db: Database) {}

  /** The new row's id. */
  async open(c: NewConnection): Promise<number> {
    const result: unknown = await this.db.knex(this.db.t.connections).insert({ user_id: c.userId, resource_id: c.resourceId, ip_address: c.ip, user_agent: c.userAgent });
    return insertedId(result);
  }

  /** Several rows in one INSERT. */
  async openMany(rows: readonly NewConnection[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.knex(this.db.t.connections).insert(rows.map((c) => ({ user_id: c.userId, resource_id: c.resourceId, ip_address: c.ip, user_agent: c.userAgent })));
  }

  /**
   * Closes the open rows of these resource ids in one UPDATE. A resource id is open at most once:
   * `<instance>-<n>` is unique within a run, and a run closes what an earlier one left open
   * before it accepts connections.
   */
  async closeByResourceIds(resourceIds: readonly string[]): Promise<void> {
    if (resourceIds.length === 0) return;
    await this.db.knex(this.db.t.connections).whereIn('resource_id', [...resourceIds]).whereNull('disconnected_at').update({ disconnected_at: now(this.db) });
  }

  async close(id: number): Promise<void> {
    await this.db.knex(this.db.t.connections).where({ id }).whereNull('disconnected_at').update({ disconnected_at: now(this.db) });
  }

  /** Closes the open rows whose resource id starts with `prefix`; the number closed. */
  async closeOpenWithResourcePrefix(prefix: string): Promise<number> {
    const pattern = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return this.db
      .knex(this.db.t.connections)
      .whereNull('disconnected_at')
      .whereRaw(this.db.client === 'mysql' ? 'resource_id LIKE ?' : "resource_id LIKE ? ESCAPE '\\'", [pattern])
      .update({ disconnected_at: now(this.db) });
  }

  /** Which of these users have an open row (through any daemon sharing the table), in one statement. */
  async usersWithOpenRows(userIds: readonly number[]): Promise<Set<number>> {
    if (userIds.length === 0) return new Set();
    const rows: Array<{ user_id: unknown }> = await this.db.knex(this.db.t.connections).distinct('user_id').whereIn('user_id', [...new Set(userIds)]).whereNull('disconnected_at');
    return new Set(rows.map((r) => Number(r.user_id)));
  }

  /** Deletes rows closed more than `ageSec` ago, in short chunks; the number deleted. */
  async deleteClosedOlderThan(ageSec: number, stopped: () => boolean): Promise<number> {
    return deleteChunked(this.db, this.db.t.connections, (q) => q.whereNotNull('disconnected_at').andWhere('disconnected_at', '<', nowPlusSeconds(this.db, -ageSec)), stopped);
  }
}
