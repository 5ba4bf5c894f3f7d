import type { FolderAccess } from '../access/index.js';
import type { Identity } from '../auth/index.js';
import { CloseCode, unixNow, type ConnectedFrame, type ErrorCode } from '../protocol/index.js';
import { REPLAY_FAILED_MESSAGE, replay } from './actions.js';
import type { ClientSocket } from './client-socket.js';
import { Connection } from './connection.js';
import type { ServerContext } from './context.js';
import type { FailedAuthLimiter } from './rate-limit.js';
import type { UpgradeRequest } from './upgrade-request.js';

/** What logging a client in touches, and nothing else. */
export type HandshakeDeps = Pick<ServerContext, 'authenticator' | 'access' | 'registry' | 'audit' | 'feed' | 'logger' | 'metrics' | 'config'> & {
  failedAuth: FailedAuthLimiter;
};

export type HandshakeOutcome =
  | { ok: true; connection: Connection; frame: ConnectedFrame }
  | { ok: false; code: ErrorCode; message: string; closeCode: number }
  /** The socket closed meanwhile: nothing is left to answer. */
  | { ok: false; code: null };

export interface HandshakeClient {
  readonly id: string;
  readonly socket: ClientSocket;
  /** False once the socket closed or was refused: the handshake stops where it is. */
  current(): boolean;
  /** The connection is registered (the session teardown must undo it from now on). */
  registered(connection: Connection): void;
}

/**
 * A credential to an open session: the identity, the per-user cap, the connection registered
 * with its websocket_connections row, a reconnect token for a browser login, the replay from the
 * upgrade's `since`, and the `connected` frame to send first.
 */
export class Handshake {
  constructor(private readonly deps: HandshakeDeps) {}

  async run(client: HandshakeClient, credential: string, request: UpgradeRequest | undefined): Promise<HandshakeOutcome> {
    const { authenticator, access: accessCache, registry, audit, feed, logger, metrics, config, failedAuth } = this.deps;
    const { ip, userAgent } = client.socket.info;
    let identity: Identity;
    let access: FolderAccess;
    try {
      const outcome = await authenticator.authenticate(credential);
      if (!client.current()) return { ok: false, code: null };
      if (!outcome.ok) {
        failedAuth.recordFailure(ip);
        metrics.authFailures.inc({ reason: outcome.reason });
        logger.warn('Authentication failed', { connection: client.id, ip, reason: outcome.reason });
        return { ok: false, code: 'auth_failed', message: outcome.message, closeCode: CloseCode.AuthFailed };
      }
      identity = outcome.identity;
      access = await accessCache.get(identity.userId);
    } catch (err) {
      if (!client.current()) return { ok: false, code: null };
      logger.error('Authentication could not reach the database', { connection: client.id, error: (err as Error).message });
      return { ok: false, code: 'server_error', message: 'The TeamPass database cannot be reached; try again shortly.', closeCode: CloseCode.ServerError };
    }
    if (!client.current()) return { ok: false, code: null };

    const max = config.max_connections_per_user;
    if (registry.countForUser(identity.userId) >= max) {
      logger.warn('Connection limit exceeded', { connection: client.id, user_id: identity.userId, max_connections: max });
      return { ok: false, code: 'max_connections', message: `Maximum ${max} simultaneous connections per user.`, closeCode: CloseCode.TooManyConnections };
    }
    const connection = new Connection(client.id, client.socket, identity, accessCache, access);
    client.socket.hold();
    // Held from before the connection is registered, so no event goes out live and again in the replay.
    const replaying = request?.since !== undefined && !request.badSince;
    if (replaying) connection.beginReplay();
    registry.add(connection);
    client.registered(connection);
    connection.auditRow = audit.opened({ userId: identity.userId, resourceId: client.id, ip, userAgent });

    let reconnectToken: string | undefined;
    if (identity.method === 'ws_token') {
      try {
        reconnectToken = await authenticator.createReconnectToken(identity.userId);
      } catch (err) {
        logger.error('Could not create a reconnect token', { connection: client.id, user_id: identity.userId, error: (err as Error).message });
      }
    }
    let recovered: boolean | undefined = request?.badSince ? false : undefined;
    try {
      if (replaying) recovered = await replay(this.deps, connection, request?.since);
    } catch {
      // Logged by the recovery; 1011 makes the client come back with the same since.
      if (!client.current()) return { ok: false, code: null };
      return { ok: false, code: 'server_error', message: REPLAY_FAILED_MESSAGE, closeCode: CloseCode.ServerError };
    } finally {
      if (replaying) connection.endReplay();
    }
    if (!client.current()) return { ok: false, code: null };
    if (recovered !== undefined) connection.recoverySince = request?.since;
    const frame: ConnectedFrame = {
      type: 'connected',
      user_id: identity.userId,
      user_login: identity.login,
      user_display_name: identity.displayName,
      server_time: unixNow(),
      config: { ping_interval: config.ping_interval_sec },
      ...(reconnectToken ? { reconnect_token: reconnectToken } : {}),
      last_event_id: feed.lastEventId(),
      settled_event_id: feed.settledEventId(),
      ...(recovered === undefined ? {} : { recovered }),
    };
    return { ok: true, connection, frame };
  }
}
