/**
 * A websocket client for tests that keeps every frame it receives in a queue, so a test that
 * waits for a message never misses one that arrived early. Frames are parsed as JSON when they
 * are JSON (else kept as text).
 */
import WebSocket from 'ws';

export type Frame = Record<string, any>;

export interface ConnectOptions {
  headers?: Record<string, string>;
  /** Sets the Origin header, as a browser does. */
  origin?: string;
  /** Answer ws ping frames (browsers always do); false makes a client that looks dead. */
  autoPong?: boolean;
  /** ms to wait for the upgrade; default 5000. */
  timeoutMs?: number;
  /** Subprotocols offered in Sec-WebSocket-Protocol (TeamPass's page offers none). */
  protocols?: string[];
}

/** Offers the `teampass-ws` subprotocol: the daemon then closes with its precise codes (4401, …) instead of 1000. */
export const PRECISE_CLOSE_CODES: ConnectOptions = { protocols: ['teampass-ws'] };

export interface CloseInfo {
  code: number;
  reason: string;
}

type Waiter = { predicate: (f: Frame) => boolean; resolve: (f: Frame) => void };

export class TestWsClient {
  /** Every frame received, in order, including those already taken by `next`. */
  readonly received: Frame[] = [];
  private readonly queue: Frame[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly closed: Promise<CloseInfo>;
  private closeInfo: CloseInfo | undefined;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = data.toString();
      let frame: Frame;
      try {
        const parsed: unknown = JSON.parse(text);
        frame = parsed !== null && typeof parsed === 'object' ? (parsed as Frame) : { raw: text };
      } catch {
        frame = { raw: text };
      }
      this.received.push(frame);
      for (const waiter of this.waiters) {
        if (waiter.predicate(frame)) {
          this.waiters.delete(waiter);
          waiter.resolve(frame);
          return;
        }
      }
      this.queue.push(frame);
    });
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
      }),
    );
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  /**
   * The first frame (in arrival order) matching `predicate`, waiting up to `timeoutMs`. Frames
   * that do not match stay queued for later calls.
   */
  next(predicate: (f: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    const index = this.queue.findIndex(predicate);
    if (index !== -1) return Promise.resolve(this.queue.splice(index, 1)[0]);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const state = this.closeInfo ? `closed ${this.closeInfo.code} ${this.closeInfo.reason}` : 'open';
        reject(new Error(`no matching frame within ${timeoutMs} ms (socket ${state}); received: ${JSON.stringify(this.received).slice(-1500)}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** The next frame of a type (and, optionally, with a request_id). */
  nextOfType(type: string, requestId?: string, timeoutMs?: number): Promise<Frame> {
    return this.next((f) => f.type === type && (requestId === undefined || f.request_id === requestId), timeoutMs);
  }

  /** Sends a request with a request_id and waits for the reply carrying it. */
  async request(message: Frame, timeoutMs?: number): Promise<Frame> {
    const requestId = message.request_id ?? `req_${Math.random().toString(36).slice(2)}`;
    this.send({ ...message, request_id: requestId });
    return this.next((f) => f.request_id === requestId, timeoutMs);
  }

  /** Resolves false when no frame matching `predicate` arrives within `ms`. */
  async none(predicate: (f: Frame) => boolean, ms: number): Promise<boolean> {
    try {
      await this.next(predicate, ms);
      return false;
    } catch {
      return true;
    }
  }

  /** Frames received and not taken by `next` yet. */
  pending(): Frame[] {
    return [...this.queue];
  }

  waitClose(timeoutMs = 10_000): Promise<CloseInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms; received: ${JSON.stringify(this.received).slice(-1000)}`)), timeoutMs);
    });
    return Promise.race([this.closed, timeout]).finally(() => clearTimeout(timer));
  }

  get isClosed(): boolean {
    return this.closeInfo !== undefined;
  }

  /** Stops reading the socket (the server's bufferedAmount then grows). */
  pauseReading(): void {
    this.ws.pause();
  }

  resumeReading(): void {
    this.ws.resume();
  }

  async close(code = 1000, reason = ''): Promise<CloseInfo> {
    if (this.closeInfo) return this.closeInfo;
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else this.ws.close(code, reason);
    const timer = setTimeout(() => this.ws.terminate(), 3000);
    try {
      return await this.closed;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Opens a websocket; resolves once the upgrade succeeded, rejects on an HTTP refusal or a timeout. */
export function connect(url: string, options: ConnectOptions = {}): Promise<TestWsClient> {
  const ws = new WebSocket(url, options.protocols ?? [], {
    headers: { ...(options.origin ? { Origin: options.origin } : {}), ...options.headers },
    autoPong: options.autoPong ?? true,
    handshakeTimeout: options.timeoutMs ?? 5000,
  });
  // Attach before the open event so frames sent right after the upgrade are queued too.
  const client = new TestWsClient(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.off('error', reject);
      resolve(client);
    });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
      ws.terminate();
    });
  });
}

/** Closes every client given, ignoring those already closed. */
export async function closeAll(clients: Iterable<TestWsClient | undefined>): Promise<void> {
  await Promise.all([...clients].map((c) => c?.close().catch(() => undefined)));
}
