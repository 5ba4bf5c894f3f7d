import { addressKey, isLoopback } from './client-ip.js';

/**
 * The message-time rings of every connection of one configuration, in one Float64Array: a ring of
 * `limit` slots each, handed out at a connection's first message and back at its close. A typed
 * array of its own per connection cost about 280 bytes of objects around its 80 bytes of times.
 */
export class RateWindows {
  private times: Float64Array;
  /** Rings handed back, reused first. */
  private readonly free: number[] = [];
  private used = 0;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    initialRings = 64,
  ) {
    this.times = new Float64Array(limit * initialRings);
  }

  /** A ring's first index. */
  take(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    const start = this.used * this.limit;
    if (start + this.limit > this.times.length) {
      const grown = new Float64Array(this.times.length * 2);
      grown.set(this.times);
      this.times = grown;
    }
    this.used += 1;
    return start;
  }

  give(start: number): void {
    this.free.push(start);
  }

  get(i: number): number {
    return this.times[i]!;
  }

  set(i: number, value: number): void {
    this.times[i] = value;
  }

  /** Rings handed out and not given back. */
  get inUse(): number {
    return this.used - this.free.length;
  }
}

/**
 * rate_limit_messages per rate_limit_window_ms for one connection, counted as the PHP daemon
 * does: a sliding window over the messages that were allowed (a fixed window lets twice the
 * limit through across its boundary). It keeps the times of the last `limit` allowed messages
 * in a ring of the shared RateWindows, so memory is bounded by the limit, not by the traffic;
 * refused messages are not remembered. `release` at the connection's close gives the ring back.
 */
export class MessageRateLimiter {
  /** The ring's first index in `windows`, from the first message on (-1: none yet). */
  private ring = -1;
  /** Offset of the oldest remembered time once the ring is full. */
  private oldest = 0;
  private count = 0;
  private released = false;
  private readonly windows: RateWindows;

  constructor(windowsOrLimit: RateWindows | number, windowMs?: number) {
    this.windows = typeof windowsOrLimit === 'number' ? new RateWindows(windowsOrLimit, windowMs ?? 1000, 1) : windowsOrLimit;
  }

  /** Counts one message; false when `limit` messages were already allowed in the last window. */
  allow(nowMs = Date.now()): boolean {
    if (this.released) return false;
    const { limit, windowMs } = this.windows;
    // Taken at the first message: a connection that never sends one holds no ring.
    if (this.ring < 0) this.ring = this.windows.take();
    if (this.count < limit) {
      this.windows.set(this.ring + this.count, nowMs);
      this.count += 1;
      return true;
    }
    if (nowMs - this.windows.get(this.ring + this.oldest) < windowMs) return false;
    this.windows.set(this.ring + this.oldest, nowMs);
    this.oldest = (this.oldest + 1) % limit;
    return true;
  }

  /** The connection closed: its ring goes back to the pool, and nothing more is allowed. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.ring >= 0) this.windows.give(this.ring);
    this.ring = -1;
  }

  /** How many allowed-message times are kept (at most the limit). */
  get remembered(): number {
    return this.count;
  }
}

/** The PHP daemon's numbers: 10 failed authentications per IP per 60 s. */
export const FAILED_AUTH_LIMIT = 10;
export const FAILED_AUTH_WINDOW_MS = 60_000;
/** Past this many tracked addresses the oldest windows are dropped, so a scan cannot grow memory. */
const MAX_TRACKED = 100_000;

/**
 * Failed authentications per client address (an IPv6 client per /64). Loopback is exempt as in the PHP daemon (a local
 * proxy without trusted_proxies would otherwise block everyone at once); behind a trusted proxy
 * the address is the forwarded client's, so the limit applies per real client.
 */
export class FailedAuthLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit = FAILED_AUTH_LIMIT,
    private readonly windowMs = FAILED_AUTH_WINDOW_MS,
  ) {}

  isBlocked(ip: string, nowMs = Date.now()): boolean {
    if (!ip || isLoopback(ip)) return false;
    const w = this.windows.get(addressKey(ip));
    if (!w || nowMs - w.start >= this.windowMs) return false;
    return w.count >= this.limit;
  }

  recordFailure(address: string, nowMs = Date.now()): void {
    if (!address || isLoopback(address)) return;
    const ip = addressKey(address);
    const w = this.windows.get(ip);
    if (!w || nowMs - w.start >= this.windowMs) {
      this.windows.delete(ip);
      if (this.windows.size >= MAX_TRACKED) this.prune(nowMs, true);
      this.windows.set(ip, { start: nowMs, count: 1 });
    } else {
      w.count += 1;
    }
  }

  /** Drops closed windows (and, when `force`, the oldest half: Map keeps insertion order). */
  prune(nowMs = Date.now(), force = false): void {
    for (const [ip, w] of this.windows) if (nowMs - w.start >= this.windowMs) this.windows.delete(ip);
    if (force && this.windows.size >= MAX_TRACKED) {
      let drop = Math.floor(this.windows.size / 2);
      for (const ip of this.windows.keys()) {
        if (drop-- <= 0) break;
        this.windows.delete(ip);
      }
    }
  }

  get tracked(): number {
    return this.windows.size;
  }
}
