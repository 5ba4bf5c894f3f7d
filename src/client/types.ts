/** The shapes the browser client shares with its callers. */

/** The part of the WebSocket API the client uses: the browser's, or the `ws` package's in Node. */
export interface SocketLike {
  readonly readyState: number;
  /** The subprotocol the server selected ('' for none). */
  readonly protocol?: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: SocketCloseEvent) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
}

export interface SocketCloseEvent {
  readonly code: number;
  readonly reason: string;
  readonly wasClean?: boolean;
}

export type SocketConstructor = new (url: string, protocols?: string[]) => SocketLike;

/** A frame from the server: always an object with a `type`. */
export interface ServerMessage {
  type: string;
  request_id?: string;
  [field: string]: unknown;
}

/** What every event handler gets besides the payload. */
export interface EventMeta {
  event: string;
  /** The websocket_events row id; null from a server that does not send it (the PHP daemon). */
  event_id: number | null;
  /** created_at as unix seconds. */
  timestamp: number | null;
}

export type EventHandler = (...args: any[]) => void;

export interface TeamPassWebSocketOptions {
  /** ws:// or wss:// URL, or a path such as '/ws' on the page's host. Default: the page global TeamPassWebSocketUrl, else wss?://<page host>/ws. */
  url?: string;
  /** Websocket token (64 hex) or JWT. Default: the page global TeamPassWebSocketToken. */
  token?: string | null;
  /** First reconnect delay (ms); later ones grow by 1.5×. */
  reconnectInterval?: number;
  /** Reconnect attempts without a successful login before `reconnect_failed`. */
  maxReconnectAttempts?: number;
  /** Ceiling of the reconnect delay (ms). */
  maxReconnectDelay?: number;
  /** Share of each delay that is random (0 to 1): a restarted server is not hit by every tab at once. */
  reconnectJitter?: number;
  /** How often the client pings (ms); under the server's 60 s silence limit. */
  pingInterval?: number;
  /** How long a request waits for its reply (ms). */
  requestTimeout?: number;
  /** Requests sent per second at most; the server answers more than 10 with rate_limited. */
  maxMessagesPerSecond?: number;
  /** Resume after this event id (e.g. kept by the page across a reload). */
  lastEventId?: number | null;
  debug?: boolean;
  /** The WebSocket implementation; default the global one (Node 20 has none: pass `ws`'s). */
  WebSocket?: SocketConstructor;
  /** Source of randomness for the reconnect jitter. */
  random?: () => number;
  logger?: Pick<Console, 'log' | 'warn' | 'error'>;
}

/** Data of the `auth_failed` event: the server refused the credentials or ended the session. */
export interface AuthFailedInfo {
  /**
   * The close code: 4401 (credentials refused, expired, or TeamPass session ended) or 4403
   * (origin not allowed); 1000 from a server that does not speak the `teampass-ws` subprotocol
   * (then error_code or session_ended says why).
   */
  code: number;
  reason: string;
  /** error_code of the server's last in-band error, e.g. 'auth_failed' or 'session_expired'. */
  error_code: string | null;
  message: string | null;
  /** True when this connection had logged in: the session ended, rather than the login being refused. */
  session_ended: boolean;
}
