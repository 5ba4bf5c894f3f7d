import WebSocket from 'ws';
import type { WireFrame } from '../delivery.js';
import { CloseCode, wireCloseCode } from '../protocol/index.js';

/** Every frame the daemon sends is a text frame, whether given as text or as its UTF-8 bytes. */
const TEXT = { binary: false } as const;

export interface ClientSocketOptions {
  /** Outgoing bytes a client may fall behind before it is closed (4503). */
  maxBufferedBytes: number;
  /** How long a closing handshake may take before the socket is destroyed (ms). */
  closeGraceMs: number;
}

export interface ClientInfo {
  ip: string;
  userAgent: string;
  viaTrustedProxy: boolean;
}

/**
 * The transport side of one client: sends with a bufferedAmount ceiling, can hold frames back
 * while the `connected` frame is being prepared, and closes exactly once. It knows nothing of
 * the protocol.
 */
export class ClientSocket {
  /** Last time anything came from the client (message or pong), ms. */
  lastSeenMs = Date.now();
  private held: WireFrame[] | null = null;
  private heldBytes = 0;
  private closeRequested = false;

  constructor(
    private readonly ws: WebSocket,
    readonly info: ClientInfo,
    private readonly options: ClientSocketOptions,
    private readonly onSlowConsumer: (socket: ClientSocket) => void,
  ) {
    ws.once('close', () => this.held?.splice(0));
    // The ws library closes by itself with 1009 on a frame over max_frame_bytes: that close
    // follows the same choice of code as ours.
    const libraryClose = ws.close.bind(ws);
    ws.close = (code?: number, reason?: string | Buffer) => libraryClose(code === CloseCode.MessageTooBig ? wireCloseCode(code, ws.protocol) : code, reason);
  }

  /**
   * The raw `ws` events, once: every message and pong counts as a sign of life; `closed` gets
   * the close code and reason the peer (or we) ended with.
   */
  listen(handlers: { message(data: WebSocket.RawData): void; error(err: Error): void; closed(code: number, reason: string): void }): void {
    this.ws.on('message', (data) => {
      this.lastSeenMs = Date.now();
      handlers.message(data);
    });
    this.ws.on('pong', () => (this.lastSeenMs = Date.now()));
    this.ws.on('error', handlers.error);
    this.ws.once('close', (code, reason) => handlers.closed(code, reason.toString()));
  }

  /** The subprotocol selected in the handshake ('' when the client offered none we speak). */
  get protocol(): string {
    return this.ws.protocol;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN && !this.closeRequested;
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount + this.heldBytes;
  }

  /** Text frames only (a Buffer holds a text frame's UTF-8 bytes). */
  send(frame: WireFrame): void {
    if (!this.isOpen) return;
    if (this.held) {
      this.held.push(frame);
      this.heldBytes += frame.length;
      if (this.heldBytes > this.options.maxBufferedBytes) this.slow();
      return;
    }
    if (this.ws.bufferedAmount > this.options.maxBufferedBytes) {
      this.slow();
      return;
    }
    this.ws.send(frame, TEXT);
  }

  /**
   * For a stream the sender can pause (a replay): sends, and when the client is behind by half
   * the ceiling returns a promise settled once this frame has left for the client (or the socket
   * closed), so the sender waits instead of the client being closed as a slow consumer. Frames
   * held for `release` are not paced (they cannot leave before it).
   */
  sendPaced(frame: WireFrame): Promise<void> | void {
    const { bufferedAmount } = this.ws;
    const max = this.options.maxBufferedBytes;
    // send() applies the ceiling; only a frame that may go now and leaves the client behind is awaited.
    if (this.held || !this.isOpen || bufferedAmount > max || bufferedAmount + frame.length <= max / 2) return this.send(frame);
    return new Promise((resolve) => this.ws.send(frame, TEXT, () => resolve()));
  }

  sendJson(value: unknown): void {
    this.send(JSON.stringify(value));
  }

  /** Frames sent from now on wait until `release`. */
  hold(): void {
    this.held ??= [];
  }

  /** Sends one frame ahead of the held ones. */
  sendFirst(frame: string): void {
    if (!this.isOpen) return;
    this.ws.send(frame, TEXT);
  }

  release(): void {
    const frames = this.held ?? [];
    this.held = null;
    this.heldBytes = 0;
    for (const frame of frames) this.send(frame);
  }

  /** True when the client is over the ceiling; it is then closed as a slow consumer. */
  checkBackpressure(): boolean {
    if (this.isOpen && this.bufferedAmount > this.options.maxBufferedBytes) {
      this.slow();
      return true;
    }
    return false;
  }

  ping(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  pauseReading(): void {
    this.ws.pause();
  }

  resumeReading(): void {
    this.ws.resume();
  }

  /**
   * Closes once, after the frames already sent, with `code` as this client may see it (1000 for
   * a client that did not ask for the precise codes); a client that does not complete the
   * closing handshake within `graceMs` is destroyed.
   */
  close(code: number, reason: string, graceMs = this.options.closeGraceMs): void {
    if (this.closeRequested || this.ws.readyState === WebSocket.CLOSED) return;
    if (this.held && code !== CloseCode.SlowConsumer) this.release();
    this.closeRequested = true;
    this.held = null;
    this.heldBytes = 0;
    // A socket paused for backpressure must be read again, or the client's close reply never arrives.
    this.ws.resume();
    this.ws.close(wireCloseCode(code, this.ws.protocol), reason);
    const timer = setTimeout(() => this.ws.terminate(), graceMs);
    timer.unref();
    this.ws.once('close', () => clearTimeout(timer));
  }

  terminate(): void {
    this.closeRequested = true;
    this.ws.terminate();
  }

  /** Frames waiting elsewhere for this client (a replay's live queue) count against the same ceiling. */
  exceedsCeiling(pendingBytes: number): boolean {
    if (this.bufferedAmount + pendingBytes <= this.options.maxBufferedBytes) return false;
    this.slow();
    return true;
  }

  private slow(): void {
    if (this.closeRequested) return;
    this.close(CloseCode.SlowConsumer, 'slow consumer');
    this.onSlowConsumer(this);
  }
}
