/**
 * One round against one fresh server: connect N clients (auth + 3 folder subscriptions each),
 * idle memory, folder-event latency at 50 events/s, broadcast to all, and the reconnect storm.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { foldersOf, type RetryReasons } from './load-messages.js';
import { LOCAL_ADDRESSES, type LoadWorkers } from './load-workers.js';
import { treeCpuSeconds } from './process-memory.js';
import { SUBSCRIPTIONS_PER_CLIENT, type Target } from './targets.js';

export const EVENTS_PER_SECOND = 50;
const HANDSHAKES_IN_FLIGHT_PER_WORKER = 100;
/** A client whose attempt failed tries again after this (± 50 %). */
export const RETRY_DELAY_MS = 1000;
const SETTLE_MS = 2000;
const BROADCAST_SAMPLES = 5;
const WARM_UP_EVENTS = 25;
/** Deliveries still missing this long after the last event count as lost. */
const DRAIN_MS = 30_000;

export interface RoundResult {
  connectsPerSecond: number;
  /** The server's CPU time (utime + stime, its worker processes included) while the clients connected, per connection (ms). */
  cpuMsPerConnection: number;
  connectRetries: RetryReasons;
  rssPerConnection: number;
  heapPerConnection: number;
  latency?: { p50: number; p99: number; deliveries: number; expected: number; perSecond: number };
  broadcastMs?: number;
  /** `refused`: what the server counted itself (teampass-ws only), beside what the clients saw. */
  storm?: { ms: number; retries: RetryReasons; refused?: RetryReasons; sqlStatements?: number };
}

export interface RoundParts {
  latency: boolean;
  broadcast: boolean;
  storm: boolean;
  /** Statements the database ran so far (MariaDB's status counters), for the storm's SQL per connection. */
  sqlStatements?: () => Promise<number>;
}

export const retryCount = (r: RetryReasons) => Object.values(r).reduce((a, b) => a + b, 0);

/** Subscribers of each folder among `n` clients. */
function subscribersByFolder(folderIds: number[], n: number): Map<number, number> {
  const by = new Map<number, number>();
  for (let i = 0; i < n; i += 1) for (const f of foldersOf(folderIds, SUBSCRIPTIONS_PER_CLIENT, i)) by.set(f, (by.get(f) ?? 0) + 1);
  return by;
}

/** Folder events round-robin over the folders, one every 1/EVENTS_PER_SECOND s on a fixed schedule (open loop). */
async function produce(target: Target, events: number, tag: string): Promise<number[]> {
  const folders: number[] = [];
  const t0 = performance.now();
  const sent: Array<Promise<void>> = [];
  for (let k = 0; k < events; k += 1) {
    const due = t0 + (k * 1000) / EVENTS_PER_SECOND;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const folderId = target.folderIds[k % target.folderIds.length]!;
    folders.push(folderId);
    sent.push(target.folderEvent(folderId, tag));
  }
  await Promise.all(sent);
  return folders;
}

async function latencyAtLoad(target: Target, workers: LoadWorkers, n: number, seconds: number, tag: string) {
  await produce(target, WARM_UP_EVENTS, `${tag}w`);
  await sleep(500);
  await workers.latencyStart(tag);
  const t0 = performance.now();
  const folders = await produce(target, seconds * EVENTS_PER_SECOND, tag);
  const by = subscribersByFolder(target.folderIds, n);
  const expected = folders.reduce((sum, f) => sum + (by.get(f) ?? 0), 0);
  const deadline = Date.now() + DRAIN_MS;
  while ((await workers.latencyCount()) < expected && Date.now() < deadline) await sleep(100);
  const elapsed = (performance.now() - t0) / 1000;
  const h = await workers.latencyStop();
  return { p50: h.percentile(0.5), p99: h.percentile(0.99), deliveries: h.total, expected, perSecond: h.total / elapsed };
}

async function broadcastToAll(target: Target, workers: LoadWorkers, tag: string): Promise<number> {
  const samples: number[] = [];
  for (let i = -1; i < BROADCAST_SAMPLES; i += 1) {
    const mark = `"mark":"${tag}b${i}"`;
    await workers.arm(mark);
    const t0 = performance.timeOrigin + performance.now();
    await target.broadcast(`${tag}b${i}`);
    const last = await workers.lastArrival(mark, 60_000);
    if (i >= 0) samples.push(last - t0);
    await sleep(200);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

export async function runRound(target: Target, workers: LoadWorkers, n: number, loadSeconds: number, tag: string, parts: RoundParts): Promise<RoundResult> {
  await sleep(SETTLE_MS / 2);
  const before = await target.memory();
  const cpuBefore = treeCpuSeconds(target.pid);
  const t0 = performance.now();
  const opened = await workers.open(n, {
    url: target.url,
    tokens: target.tokens,
    folderIds: target.folderIds,
    subscriptions: SUBSCRIPTIONS_PER_CLIENT,
    localAddresses: LOCAL_ADDRESSES,
    concurrency: HANDSHAKES_IN_FLIGHT_PER_WORKER,
    timeoutMs: 180_000,
  });
  const connectMs = performance.now() - t0;
  const cpuMs = (treeCpuSeconds(target.pid) - cpuBefore) * 1000;
  if (opened.opened !== n) throw new Error(`${target.label}: opened ${opened.opened} of ${n} connections`);
  await sleep(SETTLE_MS);
  const after = await target.memory();
  const result: RoundResult = {
    connectsPerSecond: n / (connectMs / 1000),
    cpuMsPerConnection: cpuMs / n,
    connectRetries: opened.retries,
    rssPerConnection: (after.rss - before.rss) / n,
    heapPerConnection: (after.heap - before.heap) / n,
  };
  if (parts.latency) result.latency = await latencyAtLoad(target, workers, n, loadSeconds, tag);
  if (parts.broadcast) result.broadcastMs = await broadcastToAll(target, workers, tag);
  if (parts.storm) {
    await sleep(SETTLE_MS);
    const sqlBefore = await parts.sqlStatements?.();
    const refusedBefore = await target.refusals?.();
    const storm = await workers.storm(RETRY_DELAY_MS, 180_000);
    // Writes the server defers past the last `subscribed` still belong to the storm.
    await sleep(SETTLE_MS);
    const sqlAfter = await parts.sqlStatements?.();
    const refusedAfter = await target.refusals?.();
    if (storm.back !== n) throw new Error(`${target.label}: ${storm.back} of ${n} back after the storm`);
    const refused = refusedAfter && Object.fromEntries(Object.entries(refusedAfter).map(([why, v]) => [why, v - (refusedBefore?.[why] ?? 0)]).filter(([, v]) => (v as number) > 0));
    result.storm = { ms: storm.ms, retries: storm.retries, ...(refused ? { refused } : {}), ...(sqlBefore !== undefined && sqlAfter !== undefined ? { sqlStatements: sqlAfter - sqlBefore } : {}) };
  }
  await workers.closeAll();
  return result;
}
