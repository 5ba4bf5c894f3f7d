import { reconnectDelay } from './backoff.js';
import { EventCursor } from './event-cursor.js';
import { SendPacer } from './send-pacer.js';
import { absoluteSocketUrl, defaultSocketUrl, socketUrl } from './socket-url.js';
import type {
  AuthFailedInfo,
  EventHandler,
  EventMeta,
  ServerMessage,
  SocketCloseEvent,
  SocketConstructor,
  SocketLike,
  TeamPassWebSocketOptions,
} from './types.js';

const OPEN = 1;
/** Offered in the handshake: the daemon then closes with its precise codes (4401, …) instead of 1000. */
const SUBPROTOCOL = 'teampass-ws';
/** Close codes after which retrying with the same credentials cannot succeed. */
const CREDENTIALS_REFUSED = new Set([4401, 4403]);
/** The same refusals from a server that closes everything with 1000: the in-band error says it. */
const REFUSAL_ERRORS = new Set(['auth_failed', 'origin_not_allowed']);
/** A subscribe refused for one of these reasons is not retried after a reconnect. */
const FINAL_SUBSCRIBE_ERRORS = new Set(['forbidden', 'invalid_channel', 'not_found', 'invalid_request']);
/** Our own close code when the server stopped answering pings. */
const PING_TIMEOUT_CLOSE = 4000;

/** A request the server answered with `type: 'error'`; carries the frame's fields. */
export class TeamPassServerError extends Error {
  readonly type = 'error';
  readonly error_code: string;
  readonly request_id: string | undefined;
  readonly frame: ServerMessage;

  constructor(frame: ServerMessage) {
    super(typeof frame.message === 'string' ? frame.message : `Server error ${String(frame.error_code)}`);
    this.name = 'TeamPassServerError';
    this.error_code = typeof frame.error_code === 'string' ? frame.error_code : 'server_error';
    this.request_id = frame.request_id;
    this.frame = frame;
  }
}

interface Pending {
  resolve(message: ServerMessage): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
  /**
   * Told at once, before the frames read after the reply are handled (a promise's callbacks run
   * only after them): the reply, or null for an error or a timeout.
   */
  answered?: (reply: ServerMessage | null) => void;
}

interface Deferred<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

interface PageGlobals {
  TeamPassWebSocketUrl?: unknown;
  TeamPassWebSocketToken?: unknown;
}

const noop = (): void => undefined;

/**
 * TeamPass's browser client, same class name, constructor options, methods and events, so an
 * unmodified TeamPass page keeps working with it. What it adds:
 * - it resumes after a reconnect with `?since=` (and `since_event_id` in each resubscribe, which
 *   is how the daemon replays folder events) from the server's settled watermark, never from the
 *   highest id it saw, holds the replayed events until the resubscribes are answered, then hands
 *   them over in id order; each id is handed over once, also one that commits late;
 * - it offers the `teampass-ws` subprotocol, so the daemon closes with precise codes; after
 *   4401/4403 (or, from a server that closes with 1000, after the in-band auth_failed /
 *   origin_not_allowed or a session_expired event) it stops and emits `auth_failed` instead of
 *   retrying; a server that selects no subprotocol is tried again without offering it;
 * - backoff with jitter;
 * - it logs in again with the `reconnect_token` of the last `connected`;
 * - after a reconnect each subscription is sent once (also those a page made with send()), and
 *   callers asking for the same subscription meanwhile share that request;
 * - onOpen and the connect() promise wait for the server's `connected` (the login), not just
 *   the socket, and a server that stops answering pings is dropped and reconnected.
 *
 * Events besides each event_type and '*': connected, reconnecting {attempt, delay},
 * reconnect_failed {attempts}, auth_failed (AuthFailedInfo), server_error (the frame),
 * subscription_revoked (the frame), resync_required {since_event_id, last_event_id}.
 */
export class TeamPassWebSocket {
  url: string;
  token: string | null;
  reconnectInterval: number;
  maxReconnectAttempts: number;
  maxReconnectDelay: number;
  reconnectJitter: number;
  pingInterval: number;
  requestTimeout: number;
  maxMessagesPerSecond: number;
  debug: boolean;

  ws: SocketLike | null = null;
  reconnectAttempts = 0;
  /** True once the server has sent `connected` on the current socket. */
  isConnected = false;
  /** 'folder:<id>' and 'kb:0', as TeamPass's client keeps them. */
  readonly subscriptions = new Set<string>();
  /** The reconnect_token of the last `connected`, used instead of `token` for later logins. */
  reconnectToken: string | null = null;

  private readonly SocketImpl: SocketConstructor | undefined;
  private readonly random: () => number;
  private readonly logger: Pick<Console, 'log' | 'warn' | 'error'>;
  private readonly cursor: EventCursor;
  private readonly pendingRequests = new Map<string, Pending>();
  private readonly eventHandlers = new Map<string, EventHandler[]>();
  /** Subscribe requests sent on the current socket, by subscription key. */
  private socketSubscribes = new Map<string, Promise<ServerMessage>>();
  /** Callers waiting for a subscription to be made at the next login. */
  private readonly subscribeWaiters = new Map<string, Deferred<ServerMessage>[]>();
  private connectWaiters: Deferred<void>[] = [];
  private pacer: SendPacer | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  /** connect() was called and neither disconnect() nor a final failure has happened since. */
  private active = false;
  private isIntentionallyClosed = false;
  private triedPageTokenAgain = false;
  private lastServerError: ServerMessage | null = null;
  /** The current socket received a session_expired event. */
  private sessionExpiredSeen = false;
  /** False once a server that does not select SUBPROTOCOL (TeamPass's PHP daemon) was met. */
  private offerSubprotocol = true;
  /** The current socket completed its handshake. */
  private socketOpened = false;
  private requestCounter = 0;
  /** The resume point this socket asked for in its URL (null on a first login). */
  private socketSince: number | null = null;
  /** Between a login and the replies to its resubscribes: events are held and then sorted. */
  private syncing = false;
  private syncBuffer: ServerMessage[] = [];
  private resyncEmitted = false;

  private _onOpen: () => void = noop;
  private _onClose: (event: SocketCloseEvent) => void = noop;
  private _onError: (event: unknown) => void = noop;
  private _onReconnecting: (attempt: number, delayMs: number) => void = noop;

  constructor(options: TeamPassWebSocketOptions = {}) {
    const page = globalThis as PageGlobals;
    const pageUrl = typeof page.TeamPassWebSocketUrl === 'string' && page.TeamPassWebSocketUrl ? page.TeamPassWebSocketUrl : undefined;
    const pageToken = typeof page.TeamPassWebSocketToken === 'string' && page.TeamPassWebSocketToken ? page.TeamPassWebSocketToken : null;
    this.url = options.url || pageUrl || defaultSocketUrl();
    this.token = options.token ?? pageToken;
    this.reconnectInterval = positive(options.reconnectInterval, 3000);
    this.maxReconnectAttempts = positive(options.maxReconnectAttempts, 10);
    this.maxReconnectDelay = positive(options.maxReconnectDelay, 30_000);
    this.reconnectJitter = options.reconnectJitter ?? 0.3;
    this.pingInterval = positive(options.pingInterval, 25_000);
    this.requestTimeout = positive(options.requestTimeout, 10_000);
    this.maxMessagesPerSecond = positive(options.maxMessagesPerSecond, 8);
    this.debug = options.debug ?? false;
    this.SocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
    this.random = options.random ?? Math.random;
    this.logger = options.logger ?? console;
    this.cursor = new EventCursor(options.lastEventId ?? null);
  }

  /**
   * The resume point: every event at or below it was handed over (or happened before the first
   * login); null before the first login.
   */
  getLastEventId(): number | null {
    return this.cursor.last;
  }

  /** Resolves at the server's `connected`; rejects if that first attempt fails (retries go on). */
  connect(): Promise<void> {
    if (this.isConnectedNow()) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    this.isIntentionallyClosed = false;
    if (this.ws) return done;
    if (!this.active) {
      this.active = true;
      this.reconnectAttempts = 0;
      this.triedPageTokenAgain = false;
    }
    this.clearReconnectTimer();
    this.openSocket();
    return done;
  }

  disconnect(): void {
    this.log('debug', 'Disconnecting');
    this.isIntentionallyClosed = true;
    this.active = false;
    this.clearReconnectTimer();
    this.stopPing();
    const gone = new Error('Disconnected by client');
    this.rejectPendingRequests(gone);
    this.rejectSubscribeWaiters(gone);
    this.rejectConnectWaiters(gone);
    const socket = this.ws;
    this.endSync();
    this.resetSocketState();
    if (socket) {
      socket.onmessage = null;
      // Closing a socket that is still connecting reports an error; nobody needs it any more.
      socket.onerror = noop;
      socket.onclose = (event) => this._onClose(event);
      socket.close(1000, 'Client disconnect');
    }
  }

  /** Sends a request and resolves with the reply that carries its request_id. */
  send(payload: Record<string, unknown>): Promise<ServerMessage> {
    return this.request(payload);
  }

  private request(payload: Record<string, unknown>, answered?: Pending['answered']): Promise<ServerMessage> {
    const socket = this.ws;
    if (!socket || socket.readyState !== OPEN || !this.pacer) return Promise.reject(new Error('Not connected'));
    const requestId = this.newRequestId();
    const message = { ...payload, request_id: requestId };
    const pacer = this.pacer;
    const request = new Promise<ServerMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pendingRequests.delete(requestId)) return;
        answered?.(null);
        reject(new Error('Request timeout'));
      }, this.requestTimeout);
      this.pendingRequests.set(requestId, { resolve, reject, timer, answered });
      this.log('debug', 'Sending', message);
      pacer.send(JSON.stringify(message));
    });
    this.trackRawSubscription(payload, request);
    return request;
  }

  subscribeToFolder(folderId: number): Promise<ServerMessage> {
    return this.subscribe(`folder:${folderId}`);
  }

  unsubscribeFromFolder(folderId: number): Promise<ServerMessage | null> {
    return this.unsubscribe(`folder:${folderId}`);
  }

  subscribeToKb(): Promise<ServerMessage> {
    return this.subscribe('kb:0');
  }

  unsubscribeFromKb(): Promise<ServerMessage | null> {
    return this.unsubscribe('kb:0');
  }

  getStatus(): Promise<ServerMessage> {
    return this.send({ action: 'get_status' });
  }

  getStats(): Promise<ServerMessage> {
    return this.send({ action: 'get_stats' });
  }

  on(eventName: string, handler: EventHandler): this {
    const list = this.eventHandlers.get(eventName);
    if (list) list.push(handler);
    else this.eventHandlers.set(eventName, [handler]);
    return this;
  }

  off(eventName: string, handler: EventHandler): this {
    const list = this.eventHandlers.get(eventName);
    const at = list ? list.indexOf(handler) : -1;
    if (list && at > -1) list.splice(at, 1);
    return this;
  }

  /** Called at each login (the server's `connected`), after the subscriptions were sent again. */
  onOpen(callback: () => void): this {
    this._onOpen = callback;
    return this;
  }

  onClose(callback: (event: SocketCloseEvent) => void): this {
    this._onClose = callback;
    return this;
  }

  onError(callback: (event: unknown) => void): this {
    this._onError = callback;
    return this;
  }

  onReconnecting(callback: (attempt: number, delayMs: number) => void): this {
    this._onReconnecting = callback;
    return this;
  }

  isConnectedNow(): boolean {
    return this.isConnected && this.ws !== null && this.ws.readyState === OPEN;
  }

  getSubscriptions(): string[] {
    return Array.from(this.subscriptions);
  }

  private openSocket(): void {
    if (!this.SocketImpl) {
      this.fail(new Error('No WebSocket implementation: pass the WebSocket option (in Node, the ws package).'));
      return;
    }
    this.socketSince = this.cursor.last;
    const url = socketUrl(absoluteSocketUrl(this.url), this.reconnectToken ?? this.token, this.socketSince);
    this.log('debug', 'Connecting to', url.replace(/token=[^&]*/, 'token=…'));
    let socket: SocketLike;
    try {
      socket = this.offerSubprotocol ? new this.SocketImpl(url, [SUBPROTOCOL]) : new this.SocketImpl(url);
    } catch (err) {
      // A malformed URL: retrying the same one cannot help.
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.ws = socket;
    this.lastServerError = null;
    this.sessionExpiredSeen = false;
    this.socketOpened = false;
    this.pacer = new SendPacer(this.maxMessagesPerSecond, 1000, (data) => {
      if (this.ws === socket && socket.readyState === OPEN) socket.send(data);
    });
    socket.onopen = () => {
      if (this.ws !== socket) return;
      this.socketOpened = true;
      this.log('debug', 'Socket open, waiting for login');
    };
    socket.onmessage = (event) => {
      if (this.ws === socket) this.handleMessage(typeof event.data === 'string' ? event.data : String(event.data));
    };
    socket.onerror = (event) => {
      if (this.ws !== socket) return;
      this.log('debug', 'WebSocket error', event);
      this._onError(event);
    };
    socket.onclose = (event) => {
      if (this.ws === socket) this.handleClose(event);
    };
  }

  private handleMessage(raw: string): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(raw) as ServerMessage;
    } catch {
      this.log('error', 'Invalid JSON received', raw);
      return;
    }
    if (!message || typeof message !== 'object' || typeof message.type !== 'string') return;
    this.log('debug', 'Message received', message);

    const requestId = message.request_id;
    if (typeof requestId === 'string' && this.pendingRequests.has(requestId)) {
      const pending = this.pendingRequests.get(requestId)!;
      this.pendingRequests.delete(requestId);
      clearTimeout(pending.timer);
      pending.answered?.(message.type === 'error' ? null : message);
      if (message.type === 'error') pending.reject(new TeamPassServerError(message));
      else pending.resolve(message);
      return;
    }

    switch (message.type) {
      case 'event':
        this.handleEvent(message);
        break;
      case 'ping':
        this.writeNow({ action: 'pong', ...(requestId ? { request_id: requestId } : {}) });
        break;
      case 'pong':
        break;
      case 'connected':
        this.handleConnected(message);
        break;
      case 'error':
        this.lastServerError = message;
        this.log('debug', 'Server error', message);
        this.emit('server_error', message);
        break;
      case 'response':
        if (message.action === 'unsubscribed') this.handleRevoked(message);
        break;
      default:
        this.log('debug', 'Unknown message type', message);
    }
  }

  private handleEvent(message: ServerMessage): void {
    if (typeof message.event !== 'string') return;
    if (message.event === 'session_expired') this.sessionExpiredSeen = true;
    if (this.syncing) {
      // Its settled_event_id may not cover the replays still running: the last resubscribe reply's does.
      this.syncBuffer.push(message);
      return;
    }
    this.dispatchEvent(message);
    const settled = eventId(message.settled_event_id, true);
    if (settled !== null) this.cursor.settle(settled);
  }

  private dispatchEvent(message: ServerMessage): void {
    const id = eventId(message.event_id);
    if (id !== null && !this.cursor.accept(id)) {
      this.log('debug', `Event ${id} already dispatched, dropped`);
      return;
    }
    const timestamp = typeof message.timestamp === 'number' ? message.timestamp : null;
    const meta: EventMeta = { event: message.event as string, event_id: id, timestamp };
    this.emit(message.event as string, message.data, meta);
  }

  /**
   * The replays of one login are over (or cut short): what they sent is dispatched in id order.
   * Each resubscribe replays its folder's missed events after the user and broadcast events the
   * login replayed, so they can arrive out of order; sorting them restores the order they were
   * written in, and the cursor drops the ones sent twice.
   */
  private endSync(settled: number | null = null): void {
    if (!this.syncing) return;
    this.syncing = false;
    const held = this.syncBuffer;
    this.syncBuffer = [];
    const ids = held.map((m) => eventId(m.event_id));
    // A server without event ids (the PHP daemon) replays nothing: keep its order.
    const ordered = ids.every((id) => id !== null) ? held.map((m, i) => ({ m, id: ids[i]! })).sort((a, b) => a.id - b.id).map((x) => x.m) : held;
    for (const m of ordered) this.dispatchEvent(m);
    // Only when every resubscribe was answered: a connection cut halfway keeps the old resume point.
    if (settled !== null) this.cursor.settle(settled);
  }

  private noteRecovered(reply: ServerMessage, since: number | null, serverLast: number | null): void {
    if (reply.recovered !== false || this.resyncEmitted || since === null) return;
    // The server no longer holds every event after `since`: the page must reload its lists.
    this.resyncEmitted = true;
    if (serverLast !== null) this.cursor.settle(serverLast);
    this.emit('resync_required', { since_event_id: since, last_event_id: serverLast });
  }

  private handleConnected(message: ServerMessage): void {
    const socket = this.ws;
    this.isConnected = true;
    this.reconnectAttempts = 0;
    this.triedPageTokenAgain = false;
    this.resyncEmitted = false;
    if (typeof message.reconnect_token === 'string' && message.reconnect_token) this.reconnectToken = message.reconnect_token;
    // The settled watermark (every id at or below it dispatched or gone); an older daemon sends only its newest id.
    const serverLast = eventId(message.settled_event_id, true) ?? eventId(message.last_event_id, true);
    if (serverLast !== null) this.cursor.startAt(serverLast);
    // Resubscribes replay from where this socket resumed, or, on a first login, from the
    // server's watermark at login: nothing written in between is lost either way.
    const since = this.socketSince ?? serverLast;
    this.noteRecovered(message, this.socketSince, serverLast);
    this.startPing();
    this.socketSubscribes = new Map();
    this.syncing = true;
    this.syncBuffer = [];
    // The sync ends as the last reply is read, not a promise tick later: a live frame read in the
    // same chunk right after it is live, and its watermark counts.
    const keys = [...this.subscriptions];
    let outstanding = keys.length;
    let settled: number | null = null;
    let answered = true;
    const onAnswer = (reply: ServerMessage | null): void => {
      if (reply) {
        this.noteRecovered(reply, since, serverLast);
        // Replies come in order, each after its replay: the highest watermark is the last reply's.
        const replySettled = eventId(reply.settled_event_id, true);
        if (replySettled !== null && (settled === null || replySettled > settled)) settled = replySettled;
      } else {
        // Refused or unanswered (a timeout): its replay may still be running, so no watermark covers it.
        answered = false;
      }
      outstanding -= 1;
      if (outstanding === 0 && this.ws === socket) this.endSync(answered ? settled : null);
    };
    for (const key of keys) this.subscribeOnSocket(key, since, onAnswer).catch(noop);
    if (keys.length === 0) this.endSync();
    this.log('debug', 'Connected');
    this.emit('connected', message);
    try {
      this._onOpen();
    } catch (err) {
      this.log('error', 'onOpen handler error', err);
    }
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const w of waiters) w.resolve();
  }

  /** The server dropped a subscription (folder access revoked): do not ask for it again. */
  private handleRevoked(message: ServerMessage): void {
    const key = message.channel === 'kb' ? 'kb:0' : `folder:${String(message.folder_id)}`;
    this.subscriptions.delete(key);
    this.socketSubscribes.delete(key);
    this.emit('subscription_revoked', message);
  }

  private handleClose(event: SocketCloseEvent): void {
    if (this.retryWithoutSubprotocol()) return;
    const sessionEnded = this.isConnected;
    const refused = this.credentialsRefused(event.code);
    // Events that arrived before the close are real: hand them over before anything else.
    this.endSync();
    const code = event.code;
    const reason = event.reason ?? '';
    this.log('debug', 'Disconnected', { code, reason });
    this.resetSocketState();
    this.rejectPendingRequests(new Error('Connection closed'));
    try {
      this._onClose(event);
    } catch (err) {
      this.log('error', 'onClose handler error', err);
    }
    this.rejectConnectWaiters(new Error(`Connection closed before login (code ${code}${reason ? `: ${reason}` : ''})`));
    if (this.isIntentionallyClosed || !this.active) return;

    if (refused) {
      if (!sessionEnded && this.reconnectToken && this.token && this.reconnectToken !== this.token && !this.triedPageTokenAgain) {
        // The reconnect token may have expired while the page token is still good: one more try with it.
        this.triedPageTokenAgain = true;
        this.reconnectToken = null;
        this.scheduleReconnect();
        return;
      }
      const error = this.lastServerError;
      const info: AuthFailedInfo = {
        code,
        reason,
        error_code: error && typeof error.error_code === 'string' ? error.error_code : null,
        message: error && typeof error.message === 'string' ? error.message : null,
        session_ended: sessionEnded,
      };
      this.reconnectToken = null;
      this.active = false;
      this.rejectSubscribeWaiters(new Error(`Authentication failed (${info.error_code ?? code})`));
      this.logger.warn('[TeamPass WS] Not reconnecting: the server refused the credentials or ended the session', info);
      this.emit('auth_failed', info);
      return;
    }
    this.scheduleReconnect();
  }

  /**
   * A server that does not select the offered subprotocol fails the handshake (browsers and
   * `ws` alike): once, at once, try without offering it, and keep it so if that socket opens.
   * A second failure looks like a server that is down: the next attempt offers it again.
   */
  private retryWithoutSubprotocol(): boolean {
    if (this.socketOpened || this.isIntentionallyClosed || !this.active) return false;
    if (!this.offerSubprotocol) {
      this.offerSubprotocol = true;
      return false;
    }
    this.offerSubprotocol = false;
    this.log('debug', `Handshake failed while offering ${SUBPROTOCOL}: trying without it`);
    this.resetSocketState();
    this.openSocket();
    return true;
  }

  /** The server refused the credentials or ended the session: retrying cannot help. */
  private credentialsRefused(code: number): boolean {
    if (CREDENTIALS_REFUSED.has(code)) return true;
    if (code !== 1000 || this.ws === null || this.ws.protocol === SUBPROTOCOL) return false;
    const errorCode = this.lastServerError?.error_code;
    return this.sessionExpiredSeen || (typeof errorCode === 'string' && REFUSAL_ERRORS.has(errorCode));
  }

  private scheduleReconnect(): void {
    if (this.reconnectAttempts >= this.maxReconnectAttempts) {
      this.active = false;
      this.rejectSubscribeWaiters(new Error('Reconnection failed'));
      this.logger.warn('[TeamPass WS] Max reconnection attempts reached');
      this.emit('reconnect_failed', { attempts: this.reconnectAttempts });
      return;
    }
    this.reconnectAttempts++;
    const delay = reconnectDelay(
      this.reconnectAttempts,
      { baseMs: this.reconnectInterval, maxMs: this.maxReconnectDelay, jitter: this.reconnectJitter },
      this.random,
    );
    this.log('debug', `Reconnecting in ${delay}ms (attempt ${this.reconnectAttempts})`);
    try {
      this._onReconnecting(this.reconnectAttempts, delay);
    } catch (err) {
      this.log('error', 'onReconnecting handler error', err);
    }
    this.emit('reconnecting', { attempt: this.reconnectAttempts, delay });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.active && !this.isIntentionallyClosed && !this.ws) this.openSocket();
    }, delay);
  }

  private subscribe(key: string): Promise<ServerMessage> {
    this.subscriptions.add(key);
    if (this.isConnectedNow()) return this.subscribeOnSocket(key);
    if (!this.active) return Promise.reject(new Error('Not connected'));
    // Made at the next login, together with the others.
    return new Promise<ServerMessage>((resolve, reject) => {
      const list = this.subscribeWaiters.get(key);
      if (list) list.push({ resolve, reject });
      else this.subscribeWaiters.set(key, [{ resolve, reject }]);
    });
  }

  /**
   * One subscribe request per key per socket; callers asking again meanwhile share it.
   * `since` asks the server to replay what this subscription missed after that event id.
   */
  private subscribeOnSocket(key: string, since: number | null = null, answered?: Pending['answered']): Promise<ServerMessage> {
    const existing = this.socketSubscribes.get(key);
    if (existing) return existing;
    const [channel, id] = splitKey(key);
    const data: Record<string, unknown> = channel === 'folder' ? { folder_id: id } : {};
    if (since !== null) data.since_event_id = since;
    const request = this.request({ action: 'subscribe', channel, data }, answered);
    const map = this.socketSubscribes;
    map.set(key, request);
    request.then(
      (reply) => this.settleSubscribeWaiters(key, (w) => w.resolve(reply)),
      (err: Error) => {
        if (map.get(key) === request) map.delete(key);
        if (err instanceof TeamPassServerError && FINAL_SUBSCRIBE_ERRORS.has(err.error_code)) {
          this.subscriptions.delete(key);
          this.settleSubscribeWaiters(key, (w) => w.reject(err));
        } else if (!this.active) {
          this.settleSubscribeWaiters(key, (w) => w.reject(err));
        }
        // Otherwise the connection dropped: waiters stay for the next login's resubscribe.
      },
    );
    return request;
  }

  /**
   * A page may subscribe with send() itself ({action:'subscribe', channel:'kb'}): that
   * subscription is remembered too, so it is made again after a reconnect.
   */
  private trackRawSubscription(payload: Record<string, unknown>, request: Promise<ServerMessage>): void {
    const key = subscriptionKey(payload);
    if (!key) return;
    if (payload.action === 'unsubscribe') {
      this.subscriptions.delete(key);
      return;
    }
    this.subscriptions.add(key);
    request.catch((err: unknown) => {
      if (err instanceof TeamPassServerError && FINAL_SUBSCRIBE_ERRORS.has(err.error_code)) this.subscriptions.delete(key);
    });
  }

  private unsubscribe(key: string): Promise<ServerMessage | null> {
    this.subscriptions.delete(key);
    this.socketSubscribes.delete(key);
    this.settleSubscribeWaiters(key, (w) => w.reject(new Error('Unsubscribed before the subscription was made')));
    if (!this.isConnectedNow()) return Promise.resolve(null);
    const [channel, id] = splitKey(key);
    return this.send({ action: 'unsubscribe', channel, data: channel === 'folder' ? { folder_id: id } : {} });
  }

  private settleSubscribeWaiters(key: string, settle: (w: Deferred<ServerMessage>) => void): void {
    const list = this.subscribeWaiters.get(key);
    if (!list) return;
    this.subscribeWaiters.delete(key);
    for (const w of list) settle(w);
  }

  private rejectSubscribeWaiters(err: Error): void {
    const all = [...this.subscribeWaiters.values()].flat();
    this.subscribeWaiters.clear();
    for (const w of all) w.reject(err);
  }

  private rejectConnectWaiters(err: Error): void {
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  private rejectPendingRequests(err: Error): void {
    for (const pending of this.pendingRequests.values()) {
      clearTimeout(pending.timer);
      pending.reject(err);
    }
    this.pendingRequests.clear();
  }

  private startPing(): void {
    this.stopPing();
    const socket = this.ws;
    this.pingTimer = setInterval(() => {
      if (!this.isConnectedNow() || this.ws !== socket) return;
      this.send({ action: 'ping' }).catch((err: Error) => {
        // A silent server: the browser may take minutes to notice a dead TCP connection.
        if (err.message === 'Request timeout' && this.ws === socket) this.dropSocket(PING_TIMEOUT_CLOSE, 'Ping timeout');
      });
    }, this.pingInterval);
  }

  private stopPing(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  /** Abandons the current socket at once and handles it as closed. */
  private dropSocket(code: number, reason: string): void {
    const socket = this.ws;
    if (!socket) return;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onerror = noop;
    socket.onclose = null;
    try {
      socket.close(code, reason);
    } catch {
      // Already closing.
    }
    this.handleClose({ code, reason, wasClean: false });
  }

  private resetSocketState(): void {
    this.ws = null;
    this.isConnected = false;
    this.stopPing();
    this.pacer?.clear();
    this.pacer = null;
    this.socketSubscribes = new Map();
  }

  private clearReconnectTimer(): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  /** A failure no retry can fix: tell the callers and stop. */
  private fail(err: Error): void {
    this.active = false;
    this.logger.error('[TeamPass WS]', err.message);
    this.rejectConnectWaiters(err);
    this.rejectSubscribeWaiters(err);
    this._onError(err);
  }

  /** Frames that are not requests (pong) bypass the pacer: the server exempts them from its limit. */
  private writeNow(payload: Record<string, unknown>): void {
    const socket = this.ws;
    if (socket && socket.readyState === OPEN) socket.send(JSON.stringify(payload));
  }

  private emit(eventName: string, data: unknown, meta?: EventMeta): void {
    for (const handler of [...(this.eventHandlers.get(eventName) ?? [])]) {
      try {
        handler(data, meta);
      } catch (err) {
        this.log('error', 'Event handler error', err);
      }
    }
    for (const handler of [...(this.eventHandlers.get('*') ?? [])]) {
      try {
        handler(eventName, data, meta);
      } catch (err) {
        this.log('error', 'Wildcard handler error', err);
      }
    }
  }

  private newRequestId(): string {
    this.requestCounter += 1;
    return `req_${this.requestCounter.toString(36)}${Math.random().toString(36).slice(2, 12)}`;
  }

  private log(level: 'debug' | 'error', message: string, data?: unknown): void {
    if (!this.debug) return;
    const fn = level === 'error' ? this.logger.error : this.logger.log;
    if (data === undefined) fn.call(this.logger, '[TeamPass WS]', message);
    else fn.call(this.logger, '[TeamPass WS]', message, data);
  }
}

function positive(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

/** An event id from a frame (a number, or digits from a server that sends strings); 0 only where allowed. */
function eventId(value: unknown, allowZero = false): number | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(n) && (n > 0 || (allowZero && n === 0)) ? n : null;
}

/** 'folder:<id>' or 'kb:0' for a subscribe / unsubscribe request, else null. */
function subscriptionKey(payload: Record<string, unknown>): string | null {
  if (payload.action !== 'subscribe' && payload.action !== 'unsubscribe') return null;
  if (payload.channel === 'kb') return 'kb:0';
  const folderId = Number((payload.data as { folder_id?: unknown } | undefined)?.folder_id);
  return payload.channel === 'folder' && Number.isSafeInteger(folderId) && folderId > 0 ? `folder:${folderId}` : null;
}

function splitKey(key: string): ['folder' | 'kb', number] {
  const at = key.indexOf(':');
  const channel = key.slice(0, at) === 'kb' ? 'kb' : 'folder';
  return [channel, Number(key.slice(at + 1))];
}
