import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import type { FolderAccess } from '../access/index.js';
import type { Identity } from '../auth/index.js';
import {
  CloseCode,
  errorFrame,
  unixNow,
  unknownActionMessage,
  validate,
  type Classified,
  type ConnectedFrame,
  type ErrorCode,
  type RequestId,
} from '../protocol/index.js';
import { handleMessage, replay } from './actions.js';
import { ClientSocket, type ClientInfo } from './client-socket.js';
import { Connection } from './connection.js';
import type { ServerContext } from './context.js';
import { InboundQueue, type InboundItem } from './inbound.js';
import { broadcastItemViewers, broadcastKbViewers, endConnection, sendError } from './notify.js';
import type { OriginPolicy } from './origin.js';
import type { UpgradeRequest } from './upgrade-request.js';
import { MessageRateLimiter, type FailedAuthLimiter } from './rate-limit.js';

/** Messages a client may send before its authentication completes without being read further. */
const INBOUND_HIGH_WATER = 64;
const CLOSE_GRACE_MS = 10_000;
/** A connection closed for silence is usually dead: it gets this long to answer the close (ms). */
const SILENT_CLOSE_GRACE_MS = 2000;
/** setTimeout's ceiling; a later JWT expiry is re-armed from the periodic check instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LinkDeps {
  ctx: ServerContext;
  failedAuth: FailedAuthLimiter;
  origin: OriginPolicy;
}

type State = 'awaiting_credential' | 'authenticating' | 'open' | 'closed';

/**
 * One client from upgrade to close: the checks that need no database (failed-auth limit,
 * origin), authentication (URL token, Bearer header or a first `authenticate` message within
 * auth_timeout_sec), the connection cap, the `connected` frame, then its messages in order.
 * The upgrade is always accepted first and refusals are in-band, as the PHP daemon does.
 */
export class ClientLink {
  readonly socket: ClientSocket;
  private state: State = 'awaiting_credential';
  private connection: Connection | undefined;
  private readonly inbound: InboundQueue;
  private authTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly openedAtMs = Date.now();
  /** The authentication under way, if any (it never rejects: failures are answered in-band). */
  private authenticating: Promise<void> | undefined;
  private endCredentialWait: (() => void) | undefined;
  /** The upgrade's `since`, kept for a first-message authentication. */
  private pendingRequest: UpgradeRequest | undefined;

  constructor(
    ws: WebSocket,
    info: ClientInfo,
    readonly id: string,
    private readonly deps: LinkDeps,
    private readonly onClosed: (link: ClientLink) => void,
  ) {
    const { config, metrics } = deps.ctx;
    this.socket = new ClientSocket(ws, info, { maxBufferedBytes: config.max_buffered_bytes, closeGraceMs: CLOSE_GRACE_MS }, () => {
      metrics.slowConsumerCloses.inc();
      deps.ctx.logger.warn('Slow consumer closed (4503)', { connection: id, user_id: this.connection?.userId, ip: info.ip, buffered_bytes: this.socket.bufferedAmount });
    });
    this.inbound = new InboundQueue(
      this.socket,
      { maxMessageSize: config.max_message_size, highWater: INBOUND_HIGH_WATER, preAuthMaxBytes: config.max_message_size },
      new MessageRateLimiter(config.rate_limit_messages, config.rate_limit_window_ms),
      metrics,
      (message) => this.intercept(message),
      (item) => this.process(item),
      (err) => deps.ctx.logger.error('Message handling failed', { connection: id, error: (err as Error).message }),
    );
    ws.on('message', (data) => this.inbound.receive(data));
    ws.on('pong', () => (this.socket.lastSeenMs = Date.now()));
    ws.on('error', (err) => deps.ctx.logger.debug('Socket error', { connection: id, error: err.message }));
    ws.once('close', (code, reason) => this.closed(code, reason.toString()));
  }

  /**
   * `credentialWaitOver` is called once when a connection that came without a credential sends
   * one or closes: the daemon counts the connections still waiting (max_pending_connections).
   */
  start(req: IncomingMessage, request: UpgradeRequest, credentialWaitOver?: () => void): void {
    this.endCredentialWait = credentialWaitOver;
    const { ctx, failedAuth, origin } = this.deps;
    const { ip, viaTrustedProxy } = this.socket.info;
    if (failedAuth.isBlocked(ip)) {
      ctx.logger.warn('Connection refused: too many failed authentications from this address', { connection: this.id, ip });
      return this.refuse('rate_limited', 'Too many failed authentication attempts. Wait a minute before trying again.', CloseCode.TooManyConnections);
    }
    if (!origin.allows(req, viaTrustedProxy)) {
      const shown = String(req.headers.origin).slice(0, 200);
      if (origin.firstRefusal(shown)) {
        ctx.logger.warn('Connection refused: origin not allowed', { connection: this.id, ip, origin: shown, suggestion: `To let ${shown} connect, add it to allowed_origins` });
      } else {
        ctx.logger.debug('Connection refused: origin not allowed', { connection: this.id, ip, origin: shown });
      }
      return this.refuse(
        'origin_not_allowed',
        `Origin ${String(req.headers.origin).slice(0, 200)} may not connect: add it to allowed_origins, or serve TeamPass from cpassman_url.`,
        CloseCode.OriginNotAllowed,
      );
    }
    if (request.credential) {
      this.authenticating = this.authenticate(request.credential, undefined, request);
      return;
    }
    const seconds = ctx.config.auth_timeout_sec;
    this.authTimer = setTimeout(() => {
      if (this.state !== 'awaiting_credential') return;
      ctx.metrics.authFailures.inc({ reason: 'timeout' });
      ctx.logger.warn('Authentication timed out', { connection: this.id, ip, timeout_sec: seconds });
      this.refuse(
        'auth_timeout',
        `No credential within ${seconds} s: connect with ?token=…, an Authorization: Bearer header, or send {"action":"authenticate","token":"…"} first.`,
        CloseCode.AuthTimeout,
      );
    }, seconds * 1000);
    this.pendingRequest = request;
  }

  /** Consumes the first-message `authenticate` while no credential arrived yet. */
  private intercept(message: Classified): boolean {
    if (this.state !== 'awaiting_credential' || message.action !== 'authenticate') return false;
    const validated = validate(message);
    if (!validated.ok || validated.message.action !== 'authenticate') {
      sendError(this.deps.ctx, this.socket, 'invalid_request', validated.ok ? 'Expected an authenticate message.' : validated.message, message.requestId);
      return true;
    }
    const requestId = message.body.request_id === undefined ? undefined : message.requestId;
    this.authenticating = this.authenticate(validated.message.token, requestId, this.pendingRequest);
    return true;
  }

  private async authenticate(credential: string, requestId: RequestId | undefined, request: UpgradeRequest | undefined): Promise<void> {
    const { ctx, failedAuth } = this.deps;
    const { ip } = this.socket.info;
    this.state = 'authenticating';
    this.credentialWaitOver();
    clearTimeout(this.authTimer);
    let identity: Identity;
    let access: FolderAccess;
    try {
      const outcome = await ctx.authenticator.authenticate(credential);
      if (this.state !== 'authenticating') return;
      if (!outcome.ok) {
        failedAuth.recordFailure(ip);
        ctx.metrics.authFailures.inc({ reason: outcome.reason });
        ctx.logger.warn('Authentication failed', { connection: this.id, ip, reason: outcome.reason });
        return this.refuse('auth_failed', outcome.message, CloseCode.AuthFailed, requestId);
      }
      identity = outcome.identity;
      access = await ctx.access.get(identity.userId);
    } catch (err) {
      if (this.state !== 'authenticating') return;
      ctx.logger.error('Authentication could not reach the database', { connection: this.id, error: (err as Error).message });
      return this.refuse('server_error', 'The TeamPass database cannot be reached; try again shortly.', CloseCode.ServerError, requestId);
    }
    if (this.state !== 'authenticating') return;

    const max = ctx.config.max_connections_per_user;
    if (ctx.registry.countForUser(identity.userId) >= max) {
      ctx.logger.warn('Connection limit exceeded', { connection: this.id, user_id: identity.userId, max_connections: max });
      return this.refuse('max_connections', `Maximum ${max} simultaneous connections per user.`, CloseCode.TooManyConnections, requestId);
    }
    const connection = new Connection(this.id, this.socket, identity, () => ctx.access.peek(identity.userId) ?? access);
    this.connection = connection;
    this.socket.hold();
    // Held from before the connection is registered, so no event goes out live and again in the replay.
    const replaying = request?.since !== undefined && !request.badSince;
    if (replaying) connection.beginReplay();
    ctx.registry.add(connection);
    connection.auditRow = ctx.audit.opened({ userId: identity.userId, resourceId: this.id, ip, userAgent: this.socket.info.userAgent });
    this.armExpiry(connection);

    let reconnectToken: string | undefined;
    if (identity.method === 'ws_token') {
      try {
        reconnectToken = await ctx.authenticator.createReconnectToken(identity.userId);
      } catch (err) {
        ctx.logger.error('Could not create a reconnect token', { connection: this.id, user_id: identity.userId, error: (err as Error).message });
      }
    }
    let recovered: boolean | undefined = request?.badSince ? false : undefined;
    try {
      if (replaying) recovered = await replay(ctx, connection, request?.since);
    } finally {
      if (replaying) connection.endReplay();
    }
    if (this.state !== 'authenticating') return;

    const frame: ConnectedFrame = {
      type: 'connected',
      user_id: identity.userId,
      user_login: identity.login,
      user_display_name: identity.displayName,
      server_time: unixNow(),
      config: { ping_interval: ctx.config.ping_interval_sec },
      ...(reconnectToken ? { reconnect_token: reconnectToken } : {}),
      last_event_id: ctx.feed.lastEventId(),
      settled_event_id: ctx.feed.settledEventId(),
      ...(recovered === undefined ? {} : { recovered }),
      ...(requestId === undefined ? {} : { request_id: requestId }),
    };
    this.socket.sendFirst(JSON.stringify(frame));
    this.socket.release();
    if (request?.badSince) {
      sendError(ctx, this.socket, 'invalid_request', `since must be an event id (a non-negative integer), not "${request.badSince}": nothing was replayed.`);
    }
    this.state = 'open';
    if (recovered !== undefined) connection.recoverySince = request?.since;
    ctx.logger.info('Connection established', {
      connection: this.id,
      user_id: identity.userId,
      user_login: identity.login,
      auth_method: identity.method,
      ip,
      total_connections: ctx.registry.size,
    });
    this.inbound.open();
  }

  private armExpiry(connection: Connection): void {
    const at = connection.identity.expiresAtMs;
    if (at === null) return;
    const delay = at - Date.now();
    if (delay > MAX_TIMER_MS) return;
    this.expiryTimer = setTimeout(() => endConnection(this.deps.ctx, connection, 'token_expired'), Math.max(0, delay));
  }

  private async process(item: InboundItem): Promise<void> {
    const connection = this.connection;
    if (!connection || this.state !== 'open') return;
    await this.answer(connection, item);
  }

  private async answer(connection: Connection, item: InboundItem): Promise<void> {
    const { ctx } = this.deps;
    if (item.kind === 'refusal') {
      ctx.metrics.clientErrors.inc({ error_code: item.frame.error_code });
      return connection.sendJson(item.frame);
    }
    // Once logged in, `authenticate` is an action the PHP daemon does not know, whatever its fields.
    if (item.message.action === 'authenticate') return sendError(ctx, connection, 'unknown_action', unknownActionMessage('authenticate'), item.message.requestId);
    const validated = validate(item.message);
    if (!validated.ok) return sendError(ctx, connection, validated.code, validated.message, item.message.requestId);
    try {
      await handleMessage(ctx, connection, validated.message);
    } catch (err) {
      ctx.logger.error('Could not answer a message', { connection: this.id, action: item.message.action, error: (err as Error).message });
      sendError(ctx, connection, 'server_error', 'The request failed on the server; try again shortly.', item.message.requestId);
    }
  }

  /**
   * Heartbeat: a silent client is closed with 1000 as the PHP daemon does (and destroyed if it
   * does not answer the close); the others get a ws ping and TeamPass's ping frame (serialised
   * once per beat).
   */
  heartbeat(nowMs: number, silentMs: number, pingFrame: string): void {
    if (this.state === 'closed') return;
    if (nowMs - this.socket.lastSeenMs > silentMs) {
      if (!this.socket.isOpen) return;
      this.deps.ctx.logger.info('Silent connection closed', { connection: this.id, user_id: this.connection?.userId, silent_sec: Math.round((nowMs - this.socket.lastSeenMs) / 1000) });
      this.socket.close(CloseCode.Normal, 'heartbeat timeout', SILENT_CLOSE_GRACE_MS);
      return;
    }
    this.socket.ping();
    if (this.state === 'open' && !this.socket.checkBackpressure()) this.socket.send(pingFrame);
  }

  /** Resolves once the authentication and the message being answered now are done (shutdown waits for them). */
  async settled(): Promise<void> {
    await this.authenticating;
    await this.inbound.settled();
  }

  /** Server shutdown: 1001 tells a client that asked for the precise codes to come back later. */
  shutdown(): void {
    this.socket.close(CloseCode.GoingAway, 'server shutting down');
  }

  private refuse(code: ErrorCode, message: string, closeCode: number, requestId?: RequestId): void {
    this.state = 'closed';
    this.inbound.close();
    this.deps.ctx.metrics.clientErrors.inc({ error_code: code });
    this.socket.sendJson(errorFrame(code, message, requestId));
    this.socket.close(closeCode, code);
  }

  private credentialWaitOver(): void {
    const end = this.endCredentialWait;
    this.endCredentialWait = undefined;
    end?.();
  }

  private closed(code: number, reason: string): void {
    const { ctx } = this.deps;
    this.state = 'closed';
    this.credentialWaitOver();
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
    this.inbound.close();
    this.onClosed(this);
    const connection = this.connection;
    if (!connection || !ctx.registry.has(connection)) return;
    const last = ctx.registry.remove(connection);
    const views = ctx.presence.clear(connection);
    for (const target of views.items) broadcastItemViewers(ctx, target);
    for (const kbId of views.kbs) broadcastKbViewers(ctx, kbId);
    const rowClosed = ctx.audit.closed(connection.auditRow);
    ctx.logger.info('Connection closed', {
      connection: this.id,
      user_id: connection.userId,
      code,
      reason,
      duration_sec: Math.round((Date.now() - this.openedAtMs) / 1000),
      total_connections: ctx.registry.size,
    });
    // On shutdown the user is about to reconnect to the next daemon: their locks stay.
    if (last && !ctx.stopping()) void ctx.audit.track(releaseLocksOfLastConnection(ctx, connection, rowClosed));
  }
}

/**
 * The user's last connection to this daemon closed: their edition locks go unless the user is
 * still connected through another daemon sharing websocket_connections (this connection's own row
 * is closed first, so any open row is another connection).
 */
async function releaseLocksOfLastConnection(ctx: ServerContext, connection: Connection, rowClosed: Promise<void>): Promise<void> {
  const { userId, login, displayName } = connection.identity;
  try {
    await rowClosed;
    if (ctx.registry.countForUser(userId) > 0) return;
    if (await ctx.audit.hasOpenConnection(userId)) {
      ctx.logger.info('Edition locks kept: the user is still connected through another daemon', { user_id: userId });
      return;
    }
    const released = await ctx.locks.releaseAll({ userId, login, displayName });
    if (released.items + released.kbs > 0) ctx.logger.info('Released edition locks on disconnect', { user_id: userId, ...released });
  } catch (err) {
    ctx.logger.error('Could not release edition locks on disconnect', { user_id: userId, error: (err as Error).message });
  }
}
