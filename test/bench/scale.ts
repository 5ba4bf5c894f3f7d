/**
 * Connection scale: N idle, authenticated, subscribed connections held by load workers (separate
 * processes) against `teampass-ws serve`, and the same number of plain connections against a bare
 * `ws` server as the baseline: time to connect them all, the server process's memory before and
 * after, and one event's latency to the last of them. Then slow consumers: clients that stop
 * reading while a burst of large folder events goes out must be closed with 4503 while the
 * daemon's memory stays bounded.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import type { Database } from '../../src/db/index.js';
import { sendWake } from '../../src/ops/wake.js';
import { addFolder, createTeampassDatabase, grantFolder, issueToken, seedUser } from '../helpers/teampass-fixture.js';
import { startDaemon, type BenchDaemon } from './daemon.js';
import { wholeNumberFromEnv } from './env-options.js';
import { wallClockMs } from './load-messages.js';
import { LoadWorkers, LOCAL_ADDRESSES } from './load-workers.js';
import { procMemory, resetPeakRss, sampleRss, scrapeMetrics } from './process-memory.js';
import { startRelay, type Relay } from './relay.js';
import { kib, labelled, latencyHeader, mib, row, stats, textTable } from './table.js';

/** Seeded users the idle connections are spread over (max_connections_per_user is set to fit). */
const USERS = 100;
const HANDSHAKES_IN_FLIGHT_PER_WORKER = 50;
const LATENCY_EVENTS = 30;
const AFTER_BURST_EVENTS = 5;
const BURST_EVENTS = 160;
const BURST_EVENT_BYTES = 128 * 1024;
/** Burst events inserted at a time; the next waits until a reading subscriber has them. */
const BURST_CHUNK = 4;
const MAX_BUFFERED_BYTES = 1024 * 1024;
const SETTLE_MS = 1500;

export interface ScaleOptions {
  connections: number;
  slowConsumers: number;
  workers: number;
}

const LIMITS = {
  TEAMPASS_WS_BENCH_CONNECTIONS: { min: 1, max: 19_000, fallback: 10_000, why: 'one process may hold at most 20,000 open files' },
  TEAMPASS_WS_BENCH_SLOW_CONSUMERS: { min: 1, max: 500, fallback: 50, why: 'each one may hold max_buffered_bytes in the daemon' },
  TEAMPASS_WS_BENCH_WORKERS: { min: 2, max: 8, fallback: 2, why: 'at least two keep each worker well under the open-file limit' },
} as const;

/** Reads the section's sizes from the environment; a bad value stops the bench before it starts. */
export function scaleOptionsFromEnv(env: NodeJS.ProcessEnv): ScaleOptions {
  const read = (name: keyof typeof LIMITS) => wholeNumberFromEnv(env, name, LIMITS[name]);
  return {
    connections: read('TEAMPASS_WS_BENCH_CONNECTIONS'),
    slowConsumers: read('TEAMPASS_WS_BENCH_SLOW_CONSUMERS'),
    workers: read('TEAMPASS_WS_BENCH_WORKERS'),
  };
}

interface Footprint {
  label: string;
  connectMs: number;
  rssBefore: number;
  rssAfter: number;
  heapBefore: number;
  heapAfter: number;
}

interface SlowOutcome {
  codes: Map<number, number>;
  closesCounted: number;
  receivedMedian: number;
  readerEvents: number;
  rssIdle: number;
  rssPeak: number;
  rssAfter: number;
  frameBytes: number;
}

const count = (n: number) => n.toLocaleString('en-US');

async function daemonHeap(port: number): Promise<number> {
  const heap = (await scrapeMetrics(port)).get('teampass_ws_nodejs_heap_size_used_bytes');
  if (heap === undefined) throw new Error('/metrics has no teampass_ws_nodejs_heap_size_used_bytes');
  return heap;
}

async function metric(port: number, name: string): Promise<number> {
  return (await scrapeMetrics(port)).get(name) ?? 0;
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

/** Sends `samples` events one at a time; each sample is send start → the last connection had it. */
async function lastOfAll(workers: LoadWorkers, samples: number, prefix: string, send: (marker: string) => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    const marker = `"mark":"${prefix}${i}"`;
    await workers.arm(marker);
    const t0 = wallClockMs();
    await send(`${prefix}${i}`);
    const last = await workers.lastArrival(marker, 30_000);
    out.push(last - t0);
    await sleep(20 + Math.random() * 30);
  }
  return out;
}

interface Seeded {
  idleFolder: number;
  burstFolder: number;
  idleTokens: string[];
  slowTokens: string[];
  readerToken: string;
}

async function seed(db: Database, slowConsumers: number): Promise<Seeded> {
  const idleFolder = await addFolder(db, { title: 'Scale: idle subscribers' });
  const burstFolder = await addFolder(db, { title: 'Scale: slow consumers' });
  const user = async (login: string, folder: number) => {
    const u = await seedUser(db, { login });
    await grantFolder(db, u.id, folder);
    return issueToken(db, u.id, { expiresInSec: 3 * 3600 });
  };
  const idleTokens: string[] = [];
  for (let i = 0; i < USERS; i += 1) idleTokens.push(await user(`scale${i}`, idleFolder));
  const slowTokens: string[] = [];
  for (let i = 0; i < slowConsumers; i += 1) slowTokens.push(await user(`slow${i}`, burstFolder));
  return { idleFolder, burstFolder, idleTokens, slowTokens, readerToken: await user('reader', burstFolder) };
}

function folderEvent(folderId: number, payload: Record<string, unknown>) {
  return { event_type: 'item_updated', target_type: 'folder', target_id: folderId, payload: JSON.stringify({ item_id: 1, folder_id: folderId, label: 'bench', updated_by: 1, ...payload }) };
}

interface Subscriber {
  ws: WebSocket;
  bytes: number;
  events: number;
  closed: Promise<number>;
  closeCode?: number;
}

/** A client in this process: token, `connected`, folder subscription. */
function subscribe(port: number, token: string, folderId: number, localAddress: string): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    // Offers the subprotocol so the daemon says 4503 (a page offering none would see 1000).
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`, ['teampass-ws'], { perMessageDeflate: false, localAddress, handshakeTimeout: 20_000 });
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    const s: Subscriber = { ws, bytes: 0, events: 0, closed };
    let ready = false;
    const timer = setTimeout(() => fail('not subscribed in 20 s'), 20_000);
    const fail = (why: string) => {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      ws.terminate();
      reject(new Error(`slow-consumer client: ${why}`));
    };
    ws.on('error', (err) => fail(err.message));
    void closed.then((code) => {
      s.closeCode = code;
      fail(`closed ${code} before it was subscribed`);
    });
    ws.on('message', (data: Buffer) => {
      s.bytes += data.length;
      if (ready) {
        if (data.subarray(0, 16).toString() === '{"type":"event",') s.events += 1;
        return;
      }
      const frame = JSON.parse(data.toString()) as { type?: string; action?: string; message?: string };
      if (frame.type === 'connected') ws.send(JSON.stringify({ action: 'subscribe', channel: 'folder', data: { folder_id: folderId } }));
      else if (frame.type === 'error') fail(frame.message ?? 'error frame');
      else if (frame.type === 'response' && frame.action === 'subscribed') {
        ready = true;
        clearTimeout(timer);
        resolve(s);
      }
    });
  });
}

async function slowConsumers(d: BenchDaemon, db: Database, seeded: Seeded): Promise<SlowOutcome> {
  const opening = await Promise.allSettled([
    ...seeded.slowTokens.map((t, i) => subscribe(d.port, t, seeded.burstFolder, LOCAL_ADDRESSES[i % LOCAL_ADDRESSES.length]!)),
    subscribe(d.port, seeded.readerToken, seeded.burstFolder, LOCAL_ADDRESSES[0]!),
  ]);
  const opened = opening.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const refused = opening.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (refused) {
    for (const s of opened) s.ws.terminate();
    throw refused.reason as Error;
  }
  const reader = opened.pop()!;
  const slow = opened;
  for (const s of slow) s.ws.pause();
  try {
    await sleep(SETTLE_MS);
    const closesBefore = await metric(d.port, 'teampass_ws_slow_consumer_closes_total');
    const rssIdle = procMemory(d.pid).rss;
    const hwmReset = resetPeakRss(d.pid);
    const sampler = sampleRss(d.pid);

    const blob = 'x'.repeat(BURST_EVENT_BYTES);
    const rows = Array.from({ length: BURST_EVENTS }, (_, i) => folderEvent(seeded.burstFolder, { blob, mark: `burst${i}` }));
    // Paced by the reading subscriber, so only the clients that stopped reading fall behind.
    for (let i = 0; i < rows.length; i += BURST_CHUNK) {
      await db.knex(db.t.events).insert(rows.slice(i, i + BURST_CHUNK));
      await sendWake(d.wakePort);
      const want = Math.min(rows.length, i + BURST_CHUNK);
      await waitUntil(`the reading subscriber had ${want} burst events`, 20_000, () => {
        if (reader.closeCode !== undefined) throw new Error(`the reading subscriber was closed (${reader.closeCode}) after ${reader.events} burst events`);
        return reader.events >= want;
      });
    }
    let closesCounted = 0;
    await waitUntil(`the daemon closed ${slow.length} slow consumers`, 20_000, async () => {
      closesCounted = (await metric(d.port, 'teampass_ws_slow_consumer_closes_total')) - closesBefore;
      return closesCounted >= slow.length;
    });

    // Reading again drains what reached them before the close, then the close frame with its code.
    for (const s of slow) s.ws.resume();
    const codes = new Map<number, number>();
    await Promise.race([
      Promise.all(slow.map((s) => s.closed.then((code) => codes.set(code, (codes.get(code) ?? 0) + 1)))),
      sleep(30_000).then(() => {
        throw new Error(`only ${[...codes.values()].reduce((a, b) => a + b, 0)} of ${slow.length} slow consumers saw their close in 30 s`);
      }),
    ]);
    await sleep(SETTLE_MS);
    const rssAfter = procMemory(d.pid).rss;
    const rssPeak = Math.max(sampler.stop(), rssAfter, hwmReset ? procMemory(d.pid).peak : 0);
    const received = slow.map((s) => s.bytes).sort((a, b) => a - b);
    return {
      codes,
      closesCounted,
      receivedMedian: received[Math.floor(received.length / 2)]!,
      readerEvents: reader.events,
      rssIdle,
      rssPeak,
      rssAfter,
      frameBytes: JSON.stringify({ type: 'event', event: 'item_updated', data: JSON.parse(rows[0]!.payload) as unknown, timestamp: 0, event_id: 0 }).length,
    };
  } finally {
    for (const s of [...slow, reader]) s.ws.terminate();
  }
}

/** The daemon part: idle connections, their latency, slow consumers, and latency again after them. */
async function daemonPart(dbUrl: string, o: ScaleOptions, workers: LoadWorkers) {
  const db = await createTeampassDatabase(dbUrl);
  let d: BenchDaemon | undefined;
  try {
    const seeded = await seed(db, o.slowConsumers);
    const perUser = Math.ceil(o.connections / USERS);
    d = await startDaemon(dbUrl, [
      '--poll-interval-ms', '200',
      '--token-mode', 'reusable',
      '--max-connections-per-user', String(Math.max(perUser, 5)),
      '--max-buffered-bytes', String(MAX_BUFFERED_BYTES),
    ]);
    await sleep(SETTLE_MS);
    const rssBefore = procMemory(d.pid).rss;
    const heapBefore = await daemonHeap(d.port);

    const t0 = performance.now();
    const opened = await workers.open(o.connections, {
      url: `ws://127.0.0.1:${d.port}/ws`,
      tokens: seeded.idleTokens,
      folderId: seeded.idleFolder,
      localAddresses: LOCAL_ADDRESSES,
      concurrency: HANDSHAKES_IN_FLIGHT_PER_WORKER,
      timeoutMs: 120_000,
    });
    const connectMs = performance.now() - t0;
    if (opened !== o.connections) throw new Error(`opened ${opened} of ${o.connections} daemon connections`);
    const port = d.port;
    await waitUntil(`the daemon counted ${o.connections} connections`, 10_000, async () => (await metric(port, 'teampass_ws_connections')) >= o.connections);
    await sleep(SETTLE_MS);
    const footprint: Footprint = { label: 'teampass-ws serve', connectMs, rssBefore, rssAfter: procMemory(d.pid).rss, heapBefore, heapAfter: await daemonHeap(d.port) };

    const wakeInsert = async (mark: string) => {
      await db.knex(db.t.events).insert(folderEvent(seeded.idleFolder, { mark }));
      await sendWake(d!.wakePort);
    };
    await lastOfAll(workers, 3, 'warm', wakeInsert);
    const latency = stats(await lastOfAll(workers, LATENCY_EVENTS, 'idle', wakeInsert));
    const slow = await slowConsumers(d, db, seeded);
    const afterBurst = stats(await lastOfAll(workers, AFTER_BURST_EVENTS, 'after', wakeInsert));
    await workers.closeAll();
    return { footprint, latency, slow, afterBurst, usersForIdle: USERS, perUser };
  } finally {
    await d?.cli.stop();
    await db.close();
  }
}

/** The baseline part: the same number of plain connections to the bare relay. */
async function relayPart(o: ScaleOptions, workers: LoadWorkers) {
  let relay: Relay | undefined;
  let producer: WebSocket | undefined;
  try {
    relay = await startRelay();
    const pid = relay.child.pid!;
    producer = new WebSocket(`ws://127.0.0.1:${relay.port}/`, { perMessageDeflate: false });
    await new Promise((resolve, reject) => producer!.once('open', resolve).once('error', reject));
    await sleep(SETTLE_MS);
    const rssBefore = procMemory(pid).rss;
    const heapBefore = (await relay.memory()).heapUsed;
    const t0 = performance.now();
    const opened = await workers.open(o.connections, {
      url: `ws://127.0.0.1:${relay.port}/`,
      tokens: null,
      folderId: null,
      localAddresses: LOCAL_ADDRESSES,
      concurrency: HANDSHAKES_IN_FLIGHT_PER_WORKER,
      timeoutMs: 120_000,
    });
    const connectMs = performance.now() - t0;
    if (opened !== o.connections) throw new Error(`opened ${opened} of ${o.connections} relay connections`);
    await sleep(SETTLE_MS);
    const footprint: Footprint = { label: 'raw ws server', connectMs, rssBefore, rssAfter: procMemory(pid).rss, heapBefore, heapAfter: (await relay.memory()).heapUsed };
    const p = producer;
    const send = (mark: string) => new Promise<void>((resolve, reject) => p.send(JSON.stringify({ mark }), (err) => (err ? reject(err) : resolve())));
    await lastOfAll(workers, 3, 'warm', send);
    const latency = stats(await lastOfAll(workers, LATENCY_EVENTS, 'raw', send));
    await workers.closeAll();
    return { footprint, latency };
  } finally {
    producer?.terminate();
    await relay?.stop();
  }
}

function footprintLines(rows: Footprint[], n: number): string[] {
  const perConn = (after: number, before: number) => kib((after - before) / n);
  return [
    ...textTable(
      [`idle connections (${count(n)} each)`, 'connect all', 'conn/s'],
      rows.map((f) => [f.label, `${(f.connectMs / 1000).toFixed(2)} s`, count(Math.round(n / (f.connectMs / 1000)))]),
      [12, 10],
    ),
    '',
    ...textTable(
      ['server process memory', 'RSS before', 'RSS after', 'RSS/conn', 'heap before', 'heap after', 'heap/conn'],
      rows.map((f) => [f.label, mib(f.rssBefore), mib(f.rssAfter), perConn(f.rssAfter, f.rssBefore), mib(f.heapBefore), mib(f.heapAfter), perConn(f.heapAfter, f.heapBefore)]),
      [12, 12, 11, 12, 12, 11],
    ),
  ];
}

/** Runs the section and returns the lines to print. */
export async function connectionScale(newDatabaseUrl: () => Promise<string>, o: ScaleOptions): Promise<string[]> {
  const workers = await LoadWorkers.start(o.workers);
  try {
    // The baseline first: the daemon's teardown (10,000 audit rows closed) must not load its run.
    const raw = await relayPart(o, workers);
    const daemon = await daemonPart(await newDatabaseUrl(), o, workers);
    const n = count(o.connections);
    const s = daemon.slow;
    const codes = [...s.codes].sort((a, b) => b[1] - a[1]).map(([code, k]) => `${k} × ${code}`).join(', ');
    const closedWith4503 = s.codes.get(4503) ?? 0;
    const allowed = o.slowConsumers * (MAX_BUFFERED_BYTES + s.frameBytes);
    const burstPerClient = BURST_EVENTS * s.frameBytes;
    const unbounded = o.slowConsumers * (burstPerClient - s.receivedMedian);
    return [
      `connection scale — ${n} idle connections to each server process, held by ${o.workers} load worker processes (source addresses ${LOCAL_ADDRESSES[0]}–${LOCAL_ADDRESSES.length}); loopback only`,
      `teampass-ws (database as above): ?token= auth (reusable tokens, ${daemon.usersForIdle} users × ${daemon.perUser}) + subscribe to one folder; raw ws: plain upgrade`,
      `memory: VmRSS from /proc/<pid>/status; V8 heap used from /metrics (daemon) or process.memoryUsage() (raw ws), no forced GC`,
      '',
      ...footprintLines([daemon.footprint, raw.footprint], o.connections),
      '',
      latencyHeader(`one event → last of ${n} connections`),
      row('raw ws relay (message over one socket)', raw.latency),
      row('teampass-ws, folder event INSERT + wake-up', daemon.latency),
      row('  again, after the slow-consumer burst', daemon.afterBurst),
      '',
      `slow consumers: ${o.slowConsumers} subscribers of one folder pause their sockets while ${BURST_EVENTS} events of ${kib(s.frameBytes)} (${mib(burstPerClient)} per client) go to that folder, ${BURST_CHUNK} at a time as fast as one reading subscriber takes them; max_buffered_bytes ${mib(MAX_BUFFERED_BYTES)}; the ${n} idle connections stay open`,
      ...labelled([
        ['closed by the daemon, as the clients saw it', `${closedWith4503} / ${o.slowConsumers} with 4503${closedWith4503 === o.slowConsumers ? '' : ` (${codes})`}`],
        ['teampass_ws_slow_consumer_closes_total', `+${s.closesCounted}`],
        ['received before the close (median client)', `${mib(s.receivedMedian)} of ${mib(burstPerClient)}`],
        ['a reading subscriber of the same folder', `${s.readerEvents} / ${BURST_EVENTS} events`],
        ['daemon RSS idle → peak → after', `${mib(s.rssIdle)} → ${mib(s.rssPeak)} → ${mib(s.rssAfter)}`],
        ['peak − idle', mib(s.rssPeak - s.rssIdle)],
        ['  allowed: clients × (ceiling + one frame)', mib(allowed)],
        ['  unbounded it would hold: clients × unread', mib(unbounded)],
      ]),
    ];
  } finally {
    workers.stop();
  }
}
