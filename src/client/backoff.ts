export interface BackoffPolicy {
  /** Delay before the first attempt (ms). */
  baseMs: number;
  /** Ceiling (ms). */
  maxMs: number;
  /** Share of the delay that is random, 0 to 1. */
  jitter: number;
}

/**
 * TeamPass's schedule, 3000·1.5^(n-1) ms capped at 30 s, with up to `jitter` of each delay taken
 * off at random so that the tabs of a whole office do not reconnect in the same millisecond
 * after a restart. The jitter only shortens: the cap stays the cap.
 */
export function reconnectDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const n = Math.max(1, Math.floor(attempt));
  const raw = Math.min(policy.baseMs * Math.pow(1.5, n - 1), policy.maxMs);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return Math.round(raw * (1 - jitter * random()));
}
