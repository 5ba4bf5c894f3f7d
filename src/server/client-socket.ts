import type { Duplex } from 'node:stream';
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
 * A client's info, kept for as long as it is connected. Spelled out as one literal: V8 gives an
 * object spread from another one a hidden class of its own once spreads are many (about 190 bytes
 * per connection); literals of one shape share one.
 */
export function clientInfo(address: { ip: string; viaTrustedProxy: boolean }, userAgent: string | undefined): ClientInfo {
  return { ip: address.ip, userAgent: userAgent ?? '', viaTrustedProxy: address.viaTrustedProxy };
}

/** What a client's socket tells its owner. Methods, not closures: nothing is allocated per client for them. */
export interface ClientSocketEvents {
  message(data: WebSocket.RawData): void;
  socketError(err: Error): void;
  /** The close code and reason the peer (or we) ended with; told once. */
  closed(code: number, reason: string): void;
  /** Closed with 4503 for falling max_buffered_bytes behind. */
  slowConsumer(): void;
}

/** RFC 6455 §5.2: FIN set, text opcode, no mask (a server's frames are never masked). */
const FIN_TEXT = 0x81;

/** The whole frame of an unfragmented text message: the header, then the payload's bytes. */
export function textFrameBytes(payload: Buffer): Buffer {
  const n = payload.length;
  const headerLength = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const bytes = Buffer.allocUnsafe(headerLength + n);
  bytes[0] = FIN_TEXT;
  if (headerLength === 2) {
    bytes[1] = n;
  } else if (headerLength === 4) {
    bytes[1] = 126;
    bytes.writeUInt16BE(n, 2);
  } else {
    bytes[1] = 127;
    bytes.writeBigUInt64BE(BigInt(n), 2);
  }
  payload.copy(bytes, headerLength);
  return bytes;
}

/**
 * The frame of the payload last framed, kept while the same payload goes to more clients: an
 * event's bytes (one Buffer for all its recipients) are framed for the first and reused for the
 * rest, so a delivery is one write of bytes already on hand.
 */
let lastPayload: Buffer | undefined;
let lastFrame: Buffer | undefined;

export function framedOnce(payload: Buffer): Buffer {
  if (payload !== lastPayload || lastFrame === undefined) {
    lastFrame = textFrameBytes(payload);
    lastPayload = payload;
  }
  return lastFrame;
}

/**
 * The daemon's WebSocket class (the server's `WebSocket` option): it points to the ClientSocket
 * serving it, so one set of listener functions serves every client instead of closures per client.
 */
export class DaemonWebSocket extends WebSocket {
  client: ClientSocket | undefined = undefined;
  /**
   * The TCP socket the server handed to `ws` with the upgrade. Frames framed once for many
   * clients are written to it directly: `ws` writes its own frames to the same socket in the
   * order they are sent, because its sender never queues here (the server turns
   * permessage-deflate off and sends no Blob), and `bufferedAmount` counts both.
   */
  transport: Duplex | undefined = undefined;

  /** The ws library closes by itself with 1009 on a frame over max_frame_bytes: that close follows the same choice of code as ours. */
  override close(code?: number, reason?: string | Buffer): void {
    super.close(code === CloseCode.MessageTooBig ? wireCloseCode(code, this.protocol) : code, reason);
  }
}

/** The ClientSocket a listener's `this` serves (the listeners below are only added to DaemonWebSockets). */
function clientOf(ws: WebSocket): ClientSocket | undefined {
  return ws instanceof DaemonWebSocket ? ws.client : undefined;
}

function onMessage(this: WebSocket, data: WebSocket.RawData): void {
  const client = clientOf(this);
  if (!client) return;
  client.lastSeenMs = Date.now();
  client.events.message(data);
}

function onPong(this: WebSocket): void {
  const client = clientOf(this);
  if (client) client.lastSeenMs = Date.now();
}

function onError(this: WebSocket, err: Error): void {
  clientOf(this)?.events.socketError(err);
}

function onClose(this: WebSocket, code: number, reason: Buffer): void {
  clientOf(this)?.socketClosed(code, reason.toString());
}

function terminateLate(ws: WebSocket): void {
  ws.terminate();
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
  private closeTimer: NodeJS.Timeout | undefined;

  /**
   * From now on the `ws` events reach `events`: every message and pong counts as a sign of life
   * (`options` is shared by every client).
   */
  constructor(
    private readonly ws: DaemonWebSocket,
    readonly info: ClientInfo,
    private readonly options: ClientSocketOptions,
    readonly events: ClientSocketEvents,
  ) {
    ws.client = this;
    ws.on('message', onMessage);
    ws.on('pong', onPong);
    ws.on('error', onError);
    ws.on('close', onClose);
  }

  /** The socket closed (ws emits it once): frames held for it are dropped, the owner is told. */
  socketClosed(code: number, reason: string): void {
    clearTimeout(this.closeTimer);
    this.held = null;
    this.heldBytes = 0;
    this.events.closed(code, reason);
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

  /**
   * Text frames only (a Buffer holds a text frame's UTF-8 bytes, the same Buffer for every
   * recipient of one event: it is framed once, see framedOnce).
   */
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
    const transport = this.ws.transport;
    if (typeof frame === 'string' || transport === undefined) this.ws.send(frame, TEXT);
    else transport.write(framedOnce(frame));
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
    this.closeTimer = setTimeout(terminateLate, graceMs, this.ws);
    this.closeTimer.unref();
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
    this.events.slowConsumer();
  }
}
