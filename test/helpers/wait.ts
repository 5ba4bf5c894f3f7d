import { setTimeout as sleep } from 'node:timers/promises';

type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Waits until `probe` gives a truthy value (a condition that holds, a frame that arrived) and
 * returns it, checking every `intervalMs`; fails after `timeoutMs` saying what it waited for
 * (`what` may be a function, to report the last state seen).
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  what: string | (() => string) = () => probe.toString().slice(0, 200),
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as Truthy<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${typeof what === 'function' ? what() : what}`);
    await sleep(intervalMs);
  }
}
