/**
 * `npm run bench`: INSERT→client latency through the real daemon (`teampass-ws serve` as a
 * process, built in dist/), with and without the wake-up datagram, fan-out throughput, and the
 * same figures for a bare `ws` relay measured in the same run as the baseline; then connection
 * scale (scale.ts): many idle connections held by load worker processes, and slow consumers;
 * last, how soon `serve` accepts TCP after it is spawned (startup.ts).
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import type { Database } from '../../src/db/index.js';
import { sendWake } from '../../src/ops/wake.js';
import { mariaDb } from '../helpers/mariadb.js';
import { createTeampassDatabase, issueToken, seedUser } from '../helpers/teampass-fixture.js';
import { databaseFactory, runBench } from './bench-main.js';
import { startDaemon, type BenchDaemon } from './daemon.js';
import { startRelay, type Relay } from './relay.js';
import { connectionScale, scaleOptionsFromEnv } from './scale.js';
import { startupTime } from './startup.js';
import { latencyHeader, row, stats, type Stats } from './table.js';

const CLIENTS = 100;
const FANOUT_EVENTS = 2000;
/** Everything, the connection-scale section included, must be over well within this. */
const WATCHDOG_MS = 6 * 60_000;

/** A websocket that notes when each frame arrives; `onFrame` sees the text. */
class BenchClient {
  frames = 0;
  private listeners = new Set<(text: string, at: number) => void>();
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const at = performance.now();
      this.frames += 1;
      const text = data.toString();
      for (const l of this.listeners) l(text, at);
    });
  }
  on(listener: (text: string, at: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  close(): void {
    this.ws.terminate();
  }
}

function openClient(url: string, waitFor?: (text: string) => boolean): Promise<BenchClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const client = new BenchClient(ws);
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    if (!waitFor) {
      ws.once('open', () => resolve(client));
      return;
    }
    const off = client.on((text) => {
      if (!waitFor(text)) return;
      off();
      resolve(client);
    });
  });
}


/** Producer → daemon: one autocommit INSERT, as TeamPass's emitWebSocketEvent does. */
function producer(db: Database) {
  return async (payload: object): Promise<void> => {
    await db.knex(db.t.events).insert({ event_type: 'system_maintenance', target_type: 'broadcast', target_id: null, payload: JSON.stringify(payload) });
  };
}

/** Sends `count` events one at a time; each sample is send start → the moment `expect` clients had it. */
async function sequentialLatency(
  count: number,
  receivers: BenchClient[],
  send: (seq: number) => Promise<void>,
  matches: (text: string, seq: number) => boolean,
  pauseMs: () => number,
): Promise<number[]> {
  const samples: number[] = [];
  for (let seq = 0; seq < count; seq += 1) {
    let pending = receivers.length;
    let last = 0;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`event ${seq} did not reach every client in 10 s`)), 10_000);
      const offs = receivers.map((r) =>
        r.on((text, at) => {
          if (!matches(text, seq)) return;
          last = Math.max(last, at);
          pending -= 1;
          if (pending === 0) {
            clearTimeout(timer);
            for (const off of offs) off();
            resolve();
          }
        }),
      );
    });
    const t0 = performance.now();
    await send(seq);
    await done;
    samples.push(last - t0);
    await sleep(pauseMs());
  }
  return samples;
}

async function throughput(receivers: BenchClient[], total: number, send: () => Promise<void>): Promise<number> {
  const start = receivers.map((r) => r.frames);
  const t0 = performance.now();
  await send();
  const deadline = Date.now() + 120_000;
  while (receivers.some((r, i) => r.frames - start[i]! < total)) {
    if (Date.now() > deadline) throw new Error('throughput run did not complete in 120 s');
    await sleep(2);
  }
  return performance.now() - t0;
}

/** The first section: latency with and without the wake-up datagram, and fan-out throughput. */
async function latencyAndFanOut(newDatabaseUrl: () => Promise<string>): Promise<void> {
  const url = await newDatabaseUrl();
  const db = await createTeampassDatabase(url);
  const clients: BenchClient[] = [];
  let daemon: BenchDaemon | undefined;
  let relay: Relay | undefined;
  try {
    const engine = db.client === 'mysql' ? ((await db.knex.raw('SELECT VERSION() AS v')) as [[{ v: string }]])[0][0].v : 'SQLite (no MariaDB here)';
    const users = [];
    for (let i = 0; i < CLIENTS; i += 1) users.push(await seedUser(db, { login: `bench${i}` }));
    const tokens = await Promise.all(users.map((u) => issueToken(db, u.id)));
    daemon = await startDaemon(url, ['--poll-interval-ms', '200']);
    relay = await startRelay();
    const { port, wakePort } = daemon;
    const isConnected = (t: string) => t.startsWith('{"type":"connected"');
    for (const token of tokens) clients.push(await openClient(`ws://127.0.0.1:${port}/ws?token=${token}`, isConnected));
    const relayProducer = await openClient(`ws://127.0.0.1:${relay.port}/`);
    const relayClients: BenchClient[] = [];
    for (let i = 0; i < CLIENTS; i += 1) relayClients.push(await openClient(`ws://127.0.0.1:${relay.port}/`));
    // The relay has no `connected` frame: give it a moment to register every socket.
    await sleep(200);

    const insert = producer(db);
    const eventSeq = (text: string, seq: number) => text.includes(`"data":{"seq":${seq}}`);
    const relaySeq = (text: string, seq: number) => text === `{"seq":${seq}}`;
    const relaySend = (seq: number) =>
      new Promise<void>((resolve, reject) => relayProducer.ws.send(JSON.stringify({ seq }), (err) => (err ? reject(err) : resolve())));
    const one = [clients[0]!];
    const jitter = (max: number) => () => Math.random() * max;

    // Warm-up: JIT, pools, the first poll.
    const warmUp = async (seq: number) => {
      await insert({ seq: -1 - seq });
      await sendWake(wakePort);
    };
    await sequentialLatency(20, one, warmUp, (t, s) => eventSeq(t, -1 - s), jitter(5));
    await sequentialLatency(20, [relayClients[0]!], (seq) => relaySend(-1 - seq), (t, s) => t === `{"seq":${-1 - s}}`, jitter(5));

    const results: Array<[string, Stats]> = [];
    // Every client gets every frame; a latency sample waits for the clients it names.
    results.push(['raw ws relay → 1 client', stats(await sequentialLatency(300, [relayClients[0]!], relaySend, relaySeq, jitter(5)))]);
    const insertMs: number[] = [];
    const timedInsertAndWake = async (seq: number) => {
      const t0 = performance.now();
      await insert({ seq });
      insertMs.push(performance.now() - t0);
      await sendWake(wakePort);
    };
    results.push(['INSERT → client, wake-up datagram', stats(await sequentialLatency(300, one, timedInsertAndWake, eventSeq, jitter(5)))]);
    results.push(['  of which the INSERT itself (autocommit)', stats(insertMs)]);
    results.push(['INSERT → client, polling only (200 ms)', stats(await sequentialLatency(60, one, (seq) => insert({ seq: 1000 + seq }), (t, s) => eventSeq(t, 1000 + s), jitter(200)))]);
    results.push([`raw ws relay → last of ${CLIENTS} clients`, stats(await sequentialLatency(100, relayClients, (seq) => relaySend(2000 + seq), (t, s) => relaySeq(t, 2000 + s), jitter(5)))]);
    const fanOutInsert = async (seq: number) => {
      await insert({ seq: 2000 + seq });
      await sendWake(wakePort);
    };
    results.push([`INSERT → last of ${CLIENTS} clients, wake-up`, stats(await sequentialLatency(100, clients, fanOutInsert, (t, s) => eventSeq(t, 2000 + s), jitter(5)))]);

    const rows = Array.from({ length: FANOUT_EVENTS }, (_, i) => ({ event_type: 'system_maintenance', target_type: 'broadcast', target_id: null, payload: JSON.stringify({ bulk: i }) }));
    const daemonMs = await throughput(clients, FANOUT_EVENTS, async () => {
      for (let i = 0; i < rows.length; i += 500) await db.knex(db.t.events).insert(rows.slice(i, i + 500));
      await sendWake(wakePort);
    });
    const relayMs = await throughput(relayClients, FANOUT_EVENTS, async () => {
      for (let i = 0; i < FANOUT_EVENTS; i += 1) relayProducer.ws.send(JSON.stringify({ bulk: i }));
    });

    const cpus = os.cpus();
    console.log('');
    console.log(`teampass-ws bench — ${engine}, Node ${process.version}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}`);
    console.log('daemon: `teampass-ws serve` as a process (poll_interval_ms 200, wake_port on); clients and producer in this process; loopback only');
    console.log('');
    console.log(latencyHeader());
    for (const [label, st] of results) console.log(row(label, st));
    console.log('');
    const frames = FANOUT_EVENTS * CLIENTS;
    const rate = (n: number, t: number) => `${Math.round(n / (t / 1000)).toLocaleString('en-US')}/s`;
    console.log(`fan-out: ${FANOUT_EVENTS} broadcast events × ${CLIENTS} clients = ${frames.toLocaleString('en-US')} frames`);
    console.log(`  teampass-ws (bulk INSERT → every client had every event)  ${(daemonMs / 1000).toFixed(2)} s  ${rate(frames, daemonMs)} frames, ${rate(FANOUT_EVENTS, daemonMs)} events`);
    console.log(`  raw ws relay (same messages sent over one socket)        ${(relayMs / 1000).toFixed(2)} s  ${rate(frames, relayMs)} frames, ${rate(FANOUT_EVENTS, relayMs)} messages`);
    relayProducer.close();
    for (const c of relayClients) c.close();
  } finally {
    for (const c of clients) c.close();
    await relay?.stop();
    await daemon?.cli.stop();
    await db.close();
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const scale = scaleOptionsFromEnv(process.env);
  const newDatabaseUrl = databaseFactory(await mariaDb());
  await latencyAndFanOut(newDatabaseUrl);
  const lines = await connectionScale(newDatabaseUrl, scale);
  console.log('');
  for (const line of lines) console.log(line);
  console.log('');
  for (const line of await startupTime(newDatabaseUrl)) console.log(line);
  console.log('');
  console.log(`bench ran ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

runBench('bench', WATCHDOG_MS, async () => {
  await main();
  return 0;
});
