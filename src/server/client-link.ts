import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import type { Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import { CloseCode, errorFrame, unknownActionMessage, validate, type Classified, type ClientMessage, type ErrorCode, type RequestId } from '../protocol/index.js';
import { ClientSocket, type ClientInfo, type ClientSocketEvents, type ClientSocketOptions, type DaemonWebSocket } from './client-socket.js';
import type { Connection } from './connection.js';
import type { Handshake } from './handshake.js';
import { InboundQueue, type InboundItem, type InboundOptions, type InboundOwner } from './inbound.js';
import { endConnection, sendError } from './notify.js';
import type { OriginPolicy } from './origin.js';
import type { SessionTeardown } from './session-teardown.js';
import type { UpgradeRequest } from './upgrade-request.js';
import { MessageRateLimiter, RateWindows, type FailedAuthLimiter } from './rate-limit.js';

/** Messages a client may send before its authentication completes without being read further. */
const INBOUND_HIGH_WATER = 64;
const CLOSE_GRACE_MS = 10_000;
/** A connection closed for silence is usually dead: it gets this long to answer the close (ms). */
const SILENT_CLOSE_GRACE_MS = 2000;
/** setTimeout's ceiling; a later JWT expiry is re-armed from the periodic check instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LinkDeps {
  config: Pick<Config, 'max_buffered_bytes' | 'max_message_size' | 'rate_limit_messages' | 'rate_limit_window_ms' | 'auth_timeout_sec'>;
  logger: Logger;
  metrics: Metrics;
  failedAuth: FailedAuthLimiter;
  origin: OriginPolicy;
  handshake: Handshake;
  teardown: SessionTeardown;
  /** Answers one validated message of an open session. */
  answer(connection: Connection, message: ClientMessage): Promise<void>;
  /** The per-client limits, made once (linkLimits). */
  limits: LinkLimits;
}

type State = 'awaiting_credential' | 'authenticating' | 'open' | 'closed';

/** The per-client limits, the same objects for every client of a configuration. */
export interface LinkLimits {
  socket: ClientSocketOptions;
  inbound: InboundOptions;
  /** Every client's message-rate window, in one shared pool. */
  rateWindows: RateWindows;
}

export function linkLimits(config: LinkDeps['config']): LinkLimits {
  return {
    socket: { maxBufferedBytes: config.max_buffered_bytes, closeGraceMs: CLOSE_GRACE_MS },
    inbound: { maxMessageSize: config.max_message_size, highWater: INBOUND_HIGH_WATER, preAuthMaxBytes: config.max_message_size },
    rateWindows: new RateWindows(config.rate_limit_messages, config.rate_limit_window_ms),
  };
}

/**
 * One client from upgrade to close: the checks that need no database (failed-auth limit,
 * origin), authentication (URL token, Bearer header or a first `authenticate` message within
 * auth_timeout_sec), the connection cap, the `connected` frame, then its messages in order.
 * The upgrade is always accepted first and refusals are in-band, as the PHP daemon does.
 */
export class ClientLink implements ClientSocketEvents, InboundOwner {
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

  /** The socket and the queue call back this link's methods: no closure is made per client. */
  constructor(
    ws: DaemonWebSocket,
    info: ClientInfo,
    readonly id: string,
    private readonly deps: LinkDeps,
    private readonly onClosed: (link: ClientLink) => void,
  ) {
    const { config, metrics, limits } = deps;
    this.socket = new ClientSocket(ws, info, limits.socket, this);
    this.inbound = new InboundQueue(this.socket, limits.inbound, new MessageRateLimiter(limits.rateWindows), metrics, this);
  }

  message(data: WebSocket.RawData): void {
    this.inbound.receive(data);
  }

  socketError(err: Error): void {
    this.deps.logger.debug('Socket error', { connection: this.id, error: err.message });
  }

  slowConsumer(): void {
    this.deps.metrics.slowConsumerCloses.inc();
    this.deps.logger.warn('Slow consumer closed (4503)', { connection: this.id, user_id: this.connection?.userId, ip: this.socket.info.ip, buffered_bytes: this.socket.bufferedAmount });
  }

  handlingFailed(err: unknown): void {
    this.deps.logger.error('Message handling failed', { connection: this.id, error: (err as Error).message });
  }

  /**
   * `credentialWaitOver` is called once when a connection that came without a credential sends
   * one or closes: the daemon counts the connections still waiting (max_pending_connections).
   */
  start(req: IncomingMessage, request: UpgradeRequest, credentialWaitOver?: () => void): void {
    this.endCredentialWait = credentialWaitOver;
    const { logger, metrics, config, failedAuth, origin } = this.deps;
    const { ip, viaTrustedProxy } = this.socket.info;
    if (failedAuth.isBlocked(ip)) {
      logger.warn('Connection refused: too many failed authentications from this address', { connection: this.id, ip });
      return this.refuse('rate_limited', 'Too many failed authentication attempts. Wait a minute before trying again.', CloseCode.TooManyConnections);
    }
    if (!origin.allows(req, viaTrustedProxy)) {
      const shown = String(req.headers.origin).slice(0, 200);
      if (origin.firstRefusal(shown)) {
        logger.warn('Connection refused: origin not allowed', { connection: this.id, ip, origin: shown, suggestion: `To let ${shown} connect, add it to allowed_origins` });
      } else {
        logger.debug('Connection refused: origin not allowed', { connection: this.id, ip, origin: shown });
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
    const seconds = config.auth_timeout_sec;
    this.authTimer = setTimeout(() => {
      if (this.state !== 'awaiting_credential') return;
      metrics.authFailures.inc({ reason: 'timeout' });
      logger.warn('Authentication timed out', { connection: this.id, ip, timeout_sec: seconds });
      this.refuse(
        'auth_timeout',
        `No credential within ${seconds} s: connect with ?token=…, an Authorization: Bearer header, or send {"action":"authenticate","token":"…"} first.`,
        CloseCode.AuthTimeout,
      );
    }, seconds * 1000);
    this.pendingRequest = request;
  }

  /** Consumes the first-message `authenticate` while no credential arrived yet. */
  intercept(message: Classified): boolean {
    if (this.state !== 'awaiting_credential' || message.action !== 'authenticate') return false;
    const validated = validate(message);
    if (!validated.ok || validated.message.action !== 'authenticate') {
      sendError(this.deps, this.socket, 'invalid_request', validated.ok ? 'Expected an authenticate message.' : validated.message, message.requestId);
      return true;
    }
    const requestId = message.body.request_id === undefined ? undefined : message.requestId;
    this.authenticating = this.authenticate(validated.message.token, requestId, this.pendingRequest);
    return true;
  }

  private async authenticate(credential: string, requestId: RequestId | undefined, request: UpgradeRequest | undefined): Promise<void> {
    try {
      await this.authenticateOnce(credential, requestId, request);
    } finally {
      // Not kept once done: shutdown only waits for one under way.
      this.authenticating = undefined;
    }
  }

  private async authenticateOnce(credential: string, requestId: RequestId | undefined, request: UpgradeRequest | undefined): Promise<void> {
    const { handshake, logger } = this.deps;
    this.state = 'authenticating';
    this.credentialWaitOver();
    clearTimeout(this.authTimer);
    const outcome = await handshake.run(
      {
        id: this.id,
        socket: this.socket,
        current: () => this.state === 'authenticating',
        registered: (connection) => (this.connection = connection),
      },
      credential,
      request,
    );
    if (this.state !== 'authenticating' || (!outcome.ok && outcome.code === null)) return;
    if (!outcome.ok) return this.refuse(outcome.code, outcome.message, outcome.closeCode, requestId);
    const { connection, frame } = outcome;
    this.armExpiry(connection);
    this.socket.sendFirst(JSON.stringify(requestId === undefined ? frame : { ...frame, request_id: requestId }));
    this.socket.release();
    if (request?.badSince) {
      sendError(this.deps, this.socket, 'invalid_request', `since must be an event id (a non-negative integer), not "${request.badSince}": nothing was replayed.`);
    }
    this.state = 'open';
    logger.info('Connection established', {
      connection: this.id,
      user_id: connection.userId,
      user_login: connection.identity.login,
      auth_method: connection.identity.method,
      ip: this.socket.info.ip,
    });
    this.inbound.open();
  }

  private armExpiry(connection: Connection): void {
    const at = connection.identity.expiresAtMs;
    if (at === null) return;
    const delay = at - Date.now();
    if (delay > MAX_TIMER_MS) return;
    this.expiryTimer = setTimeout(() => endConnection(this.deps, connection, 'token_expired'), Math.max(0, delay));
  }

  async process(item: InboundItem): Promise<void> {
    const connection = this.connection;
    if (!connection || this.state !== 'open') return;
    await this.answer(connection, item);
  }

  private async answer(connection: Connection, item: InboundItem): Promise<void> {
    const { metrics, logger } = this.deps;
    if (item.kind === 'refusal') {
      metrics.clientErrors.inc({ error_code: item.frame.error_code });
      return connection.sendJson(item.frame);
    }
    // Once logged in, `authenticate` is an action the PHP daemon does not know, whatever its fields.
    if (item.message.action === 'authenticate') return sendError(this.deps, connection, 'unknown_action', unknownActionMessage('authenticate'), item.message.requestId);
    const validated = validate(item.message);
    if (!validated.ok) return sendError(this.deps, connection, validated.code, validated.message, item.message.requestId);
    try {
      await this.deps.answer(connection, validated.message);
    } catch (err) {
      logger.error('Could not answer a message', { connection: this.id, action: item.message.action, error: (err as Error).message });
      sendError(this.deps, connection, 'server_error', 'The request failed on the server; try again shortly.', item.message.requestId);
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
      this.deps.logger.info('Silent connection closed', { connection: this.id, user_id: this.connection?.userId, silent_sec: Math.round((nowMs - this.socket.lastSeenMs) / 1000) });
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
    this.deps.metrics.clientErrors.inc({ error_code: code });
    this.socket.sendJson(errorFrame(code, message, requestId));
    this.socket.close(closeCode, code);
  }

  private credentialWaitOver(): void {
    const end = this.endCredentialWait;
    this.endCredentialWait = undefined;
    end?.();
  }

  closed(code: number, reason: string): void {
    this.state = 'closed';
    this.credentialWaitOver();
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
    this.inbound.close();
    this.onClosed(this);
    if (this.connection) this.deps.teardown.end(this.connection, { code, reason, openedAtMs: this.openedAtMs });
  }
}
