import { addressKey, isLoopback } from './client-ip.js';

/**
 * rate_limit_messages per rate_limit_window_ms for one connection, counted as the PHP daemon
 * does: a sliding window over the messages that were allowed (a fixed window lets twice the
 * limit through across its boundary). It keeps the times of the last `limit` allowed messages
 * in a ring, so memory is bounded by the limit, not by the traffic; refused messages are not
 * remembered.
 */
export class MessageRateLimiter {
  private times: Float64Array | undefined;
  /** Index of the oldest remembered time once the ring is full. */
  private oldest = 0;
  private count = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Counts one message; false when `limit` messages were already allowed in the last window. */
  allow(nowMs = Date.now()): boolean {
    // Allocated at the first message: most connections never send one.
    const times = (this.times ??= new Float64Array(this.limit));
    if (this.count < this.limit) {
      times[this.count] = nowMs;
      this.count += 1;
      return true;
    }
    if (nowMs - times[this.oldest] < this.windowMs) return false;
    times[this.oldest] = nowMs;
    this.oldest = (this.oldest + 1) % this.limit;
    return true;
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
