import type { Connection } from './connection.js';
import type { ServerContext } from './context.js';
import { broadcastItemViewers, broadcastKbViewers } from './notify.js';

/** What a closing session touches: the registry, presence, its websocket_connections row and edition locks. */
export type TeardownDeps = Pick<ServerContext, 'registry' | 'presence' | 'audit' | 'locks' | 'logger' | 'stopping'>;

/**
 * The end of an authenticated session: out of the registry, its presence cleared (the other
 * viewers told), its row closed, and, when it was the user's last connection anywhere, their
 * edition locks released as the PHP daemon does.
 */
export class SessionTeardown {
  constructor(private readonly deps: TeardownDeps) {}

  end(connection: Connection, close: { code: number; reason: string; openedAtMs: number }): void {
    const { registry, presence, audit, logger, stopping } = this.deps;
    if (!registry.has(connection)) return;
    const last = registry.remove(connection);
    const views = presence.clear(connection);
    for (const target of views.items) broadcastItemViewers(this.deps, target);
    for (const kbId of views.kbs) broadcastKbViewers(this.deps, kbId);
    const rowClosed = audit.closed(connection.auditRow);
    logger.info('Connection closed', {
      connection: connection.id,
      user_id: connection.userId,
      code: close.code,
      reason: close.reason,
      duration_sec: Math.round((Date.now() - close.openedAtMs) / 1000),
      total_connections: registry.size,
    });
    // On shutdown the user is about to reconnect to the next daemon: their locks stay.
    if (last && !stopping()) audit.track(this.releaseLocks(connection, rowClosed)).catch(() => undefined);
  }

  /**
   * The user's last connection to this daemon closed: their edition locks go unless the user is
   * still connected through another daemon sharing websocket_connections (this connection's own
   * row is closed first, so any open row is another connection). Never rejects: failures are logged.
   */
  private async releaseLocks(connection: Connection, rowClosed: Promise<void>): Promise<void> {
    const { registry, audit, locks, logger } = this.deps;
    const { userId, login, displayName } = connection.identity;
    try {
      await rowClosed;
      if (registry.countForUser(userId) > 0) return;
      if (await audit.hasOpenConnection(userId)) {
        logger.info('Edition locks kept: the user is still connected through another daemon', { user_id: userId });
        return;
      }
      const released = await locks.releaseAll({ userId, login, displayName });
      if (released.items + released.kbs > 0) logger.info('Released edition locks on disconnect', { user_id: userId, ...released });
    } catch (err) {
      logger.error('Could not release edition locks on disconnect', { user_id: userId, error: (err as Error).message });
    }
  }
}
