import type WebSocket from 'ws';
import type { Metrics } from '../metrics/index.js';
import { classify, errorFrame, readFrame, type Classified, type ErrorFrame, type RequestId } from '../protocol/index.js';
import type { ClientSocket } from './client-socket.js';
import type { MessageRateLimiter } from './rate-limit.js';

const RATE_LIMITED = (requestId?: RequestId): InboundItem => ({ kind: 'refusal', frame: errorFrame('rate_limited', 'Too many requests, please slow down.', requestId) });

export type InboundItem = { kind: 'refusal'; frame: ErrorFrame } | { kind: 'message'; message: Classified };

export interface InboundOptions {
  maxMessageSize: number;
  /** Items waiting before the socket stops being read (TCP then pushes back on the client). */
  highWater: number;
  /** Bytes a client may queue before it is authenticated; past them the socket is no longer read. */
  preAuthMaxBytes: number;
}

/** Who answers a client's messages (the client's link). */
export interface InboundOwner {
  /** Takes a message out of the queue (the pre-authentication `authenticate`); true when consumed. */
  intercept(message: Classified): boolean;
  process(item: InboundItem): Promise<void>;
  handlingFailed(err: unknown): void;
}

/**
 * A client's messages, answered one at a time in arrival order. The cheap checks (size, JSON,
 * action, rate limit) run on arrival so the rate limit sees real arrival times; the answers go
 * out in order. Until the connection is open (authenticated) nothing is answered, only queued,
 * and past `highWater` queued items the socket is no longer read: bounded memory, nothing lost.
 */
export class InboundQueue {
  private readonly items: InboundItem[] = [];
  /** The size on the wire of each queued item, and their sum. */
  private readonly sizes: number[] = [];
  private queuedBytes = 0;
  private draining: Promise<void> | undefined;
  private opened = false;
  private closed = false;
  private paused = false;

  constructor(
    private readonly socket: ClientSocket,
    private readonly options: InboundOptions,
    private readonly rate: MessageRateLimiter,
    private readonly metrics: Metrics,
    private readonly owner: InboundOwner,
  ) {}

  receive(data: WebSocket.RawData): void {
    if (this.closed) return;
    this.socket.lastSeenMs = Date.now();
    const raw = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const read = readFrame(raw, this.options.maxMessageSize);
    // A frame that cannot be read still costs its sender a message: a flood of garbage is limited too.
    if (!read.ok) return this.push(this.rate.allow() ? { kind: 'refusal', frame: errorFrame(read.code, read.message) } : RATE_LIMITED(), raw.length);
    const classified = classify(read.value);
    if (!classified.ok) return this.push({ kind: 'refusal', frame: errorFrame(classified.code, classified.message, classified.requestId) }, raw.length);
    const message = classified.value;
    this.metrics.messagesReceived.inc({ action: message.action });
    // The first authenticate is the handshake; any later one is a message like the others.
    if (this.owner.intercept(message)) return;
    // pong answers the server's ping: it never counts.
    if (message.action !== 'pong' && !this.rate.allow()) return this.push(RATE_LIMITED(message.requestId), raw.length);
    this.push({ kind: 'message', message }, raw.length);
  }

  /** Authentication succeeded: answer what waited, then everything as it comes. */
  open(): void {
    this.opened = true;
    this.drain().catch((err: unknown) => this.owner.handlingFailed(err));
  }

  close(): void {
    this.closed = true;
    this.rate.release();
    this.items.length = 0;
    this.sizes.length = 0;
    this.queuedBytes = 0;
  }

  private push(item: InboundItem, bytes: number): void {
    this.items.push(item);
    this.sizes.push(bytes);
    this.queuedBytes += bytes;
    const full = this.items.length >= this.options.highWater || (!this.opened && this.queuedBytes >= this.options.preAuthMaxBytes);
    if (!this.paused && full) {
      this.paused = true;
      this.socket.pauseReading();
    }
    this.drain().catch((err: unknown) => this.owner.handlingFailed(err));
  }

  /** Resolves once the message being answered now (if any) is done: shutdown waits for it. */
  settled(): Promise<void> {
    return this.draining ?? Promise.resolve();
  }

  private drain(): Promise<void> {
    // With an item waiting, run() awaits before it ends, so `draining` is set before it is cleared.
    if (this.draining || !this.opened || this.closed || this.items.length === 0) return this.settled();
    this.draining = this.run();
    return this.draining;
  }

  private async run(): Promise<void> {
    try {
      while (!this.closed && this.items.length > 0) {
        const item = this.items.shift()!;
        this.queuedBytes -= this.sizes.shift() ?? 0;
        try {
          await this.owner.process(item);
        } catch (err) {
          this.owner.handlingFailed(err);
        }
        if (this.paused && this.items.length <= this.options.highWater / 2) {
          this.paused = false;
          this.socket.resumeReading();
        }
      }
    } finally {
      this.draining = undefined;
    }
  }
}
