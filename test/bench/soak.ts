/**
 * `npm run soak`: many connections to `teampass-ws serve` (built in dist/, on a TeamPass-shaped
 * MariaDB) for minutes, held by load worker processes, while events flow to folders, users and
 * everyone; the heartbeat runs, a share of the clients keeps closing and coming back with
 * ?since=, and slow consumers stop reading until the daemon closes them. At the end every
 * client's received event ids are checked against what it had to receive, and the daemon's
 * memory slope, open files and timers are printed with a verdict; the exit code is non-zero
 * when an event was lost or memory grew beyond the bounds.
 */
import { appendFileSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../../src/db/index.js';
import { mariaDb } from '../helpers/mariadb.js';
import { addFolder, createTeampassDatabase, grantFolder, issueToken, seedUser } from '../helpers/teampass-fixture.js';
import { databaseFactory, runBench } from './bench-main.js';
import { startDaemon, type BenchDaemon } from './daemon.js';
import type { SoakProgress, SoakTally, SoakUser } from './load-messages.js';
import { LoadWorkers, LOCAL_ADDRESSES } from './load-workers.js';
import { openFds, procMemory, scrapeMetrics } from './process-memory.js';
import { MemoryWatch, samplesCsv, startSamplesFile } from './soak-memory.js';
import { CHURN_EVERY_SEC, soakOptionsFromEnv, type SoakOptions } from './soak-options.js';
import { SoakProducer } from './soak-producer.js';
import { reasons, soakReport, type DaemonResources } from './soak-report.js';

/** Users the counted clients are spread over; user 0's clients subscribe to the bulk folder. */
const USERS = 200;
const ITEM_FOLDERS = 8;
const BULK_EVENT_BYTES = 64 * 1024;
const BULK_EVENTS_PER_SEC = 4;
/** A broadcast reaches every client: one every 10 s (TeamPass sends them for rare admin changes). */
const BROADCAST_EVERY_SEC = 10;
const MAX_BUFFERED_BYTES = 512 * 1024;
const PING_INTERVAL_SEC = 10;
/**
 * A slow consumer stops reading this long: long enough for the large events to fill the kernel's
 * socket buffers (a few MiB on loopback) and max_buffered_bytes, short of pong_timeout_sec (60 s).
 */
const SLOW_PAUSE_MS = 40_000;
const SAMPLE_EVERY_MS = 2000;
const HANDSHAKES_IN_FLIGHT_PER_WORKER = 50;
/** Time allowed to open the connections, per connection (each costs the daemon a few queries). */
const OPEN_MS_PER_CONNECTION = 40;
const SETTLE_MS = 2000;
const QUIESCE_TIMEOUT_MS = 60_000;
const DRAIN_TIMEOUT_MS = 60_000;
/** Shown when the soak stops on an error. */
const DAEMON_LOG_LINES = 20;

const count = (n: number) => n.toLocaleString('en-US');

interface Seeded {
  users: SoakUser[];
  slowUsers: SoakUser[];
  itemFolders: number[];
  bulkFolder: number;
}

async function seed(db: Database, o: SoakOptions): Promise<Seeded> {
  const itemFolders: number[] = [];
  for (let i = 0; i < ITEM_FOLDERS; i += 1) itemFolders.push(await addFolder(db, { title: `Soak ${i}` }));
  const bulkFolder = await addFolder(db, { title: 'Soak: large events' });
  const validSec = o.durationSec + 3600;
  const user = async (login: string, folderId: number): Promise<SoakUser> => {
    const u = await seedUser(db, { login, sessionEndsInSec: validSec });
    await grantFolder(db, u.id, folderId);
    return { id: u.id, token: await issueToken(db, u.id, { expiresInSec: validSec }), folderId };
  };
  const users: SoakUser[] = [];
  for (let i = 0; i < USERS; i += 1) users.push(await user(`soak${i}`, i === 0 ? bulkFolder : itemFolders[i % ITEM_FOLDERS]!));
  const slowUsers: SoakUser[] = [];
  for (let i = 0; i < o.slowConsumers; i += 1) slowUsers.push(await user(`slow${i}`, bulkFolder));
  return { users, slowUsers, itemFolders, bulkFolder };
}

async function resources(d: BenchDaemon): Promise<DaemonResources> {
  const m = await scrapeMetrics(d.port);
  return {
    fds: openFds(d.pid),
    timers: m.get('teampass_ws_nodejs_active_resources{type="Timeout"}') ?? 0,
    handles: m.get('teampass_ws_nodejs_active_handles_total') ?? 0,
    connections: m.get('teampass_ws_connections') ?? 0,
    rss: procMemory(d.pid).rss,
    slowConsumerCloses: m.get('teampass_ws_slow_consumer_closes_total') ?? 0,
  };
}

async function waitForConnections(d: BenchDaemon, want: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await scrapeMetrics(d.port)).get('teampass_ws_connections') !== want) {
    if (Date.now() > deadline) throw new Error(`the daemon did not count ${want} connections within ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

/** Splits `total` over the workers: worker i's first index and count. */
function shares(total: number, workers: number): Array<{ first: number; count: number }> {
  const base = Math.floor(total / workers);
  const extra = total % workers;
  let first = 0;
  return Array.from({ length: workers }, (_, i) => {
    const n = base + (i < extra ? 1 : 0);
    const share = { first, count: n };
    first += n;
    return share;
  });
}

function sumProgress(parts: SoakProgress[]): SoakProgress {
  const sum: SoakProgress = { live: 0, eventFrames: 0, reconnects: 0, reconnectFailures: 0, failureReasons: {}, slowCloses: {}, slowUnread: 0, serverCloses: {} };
  for (const p of parts) {
    sum.live += p.live;
    sum.eventFrames += p.eventFrames;
    sum.reconnects += p.reconnects;
    sum.reconnectFailures += p.reconnectFailures;
    sum.slowUnread += p.slowUnread;
    for (const [code, n] of Object.entries(p.slowCloses)) sum.slowCloses[code] = (sum.slowCloses[code] ?? 0) + n;
    for (const [code, n] of Object.entries(p.serverCloses)) sum.serverCloses[code] = (sum.serverCloses[code] ?? 0) + n;
    for (const [why, n] of Object.entries(p.failureReasons)) sum.failureReasons[why] = (sum.failureReasons[why] ?? 0) + n;
  }
  return sum;
}

function sumTallies(parts: SoakTally[]): SoakTally {
  const t: SoakTally = { ...sumProgress(parts), clients: 0, expected: 0, delivered: 0, lost: 0, duplicates: 0, unexpected: 0, outOfOrder: 0, notRecovered: 0, examples: [] };
  for (const p of parts) {
    t.clients += p.clients;
    t.expected += p.expected;
    t.delivered += p.delivered;
    t.lost += p.lost;
    t.duplicates += p.duplicates;
    t.unexpected += p.unexpected;
    t.outOfOrder += p.outOfOrder;
    t.notRecovered += p.notRecovered;
    t.examples.push(...p.examples);
  }
  return t;
}

async function soak(o: SoakOptions): Promise<number> {
  const started = Date.now();
  const url = await databaseFactory(await mariaDb())();
  const db = await createTeampassDatabase(url);
  let d: BenchDaemon | undefined;
  let workers: LoadWorkers | undefined;
  try {
    const engine = db.client === 'mysql' ? ((await db.knex.raw('SELECT VERSION() AS v')) as [[{ v: string }]])[0][0].v : 'SQLite (no MariaDB here)';
    const seeded = await seed(db, o);
    const perUser = Math.ceil(o.connections / USERS);
    d = await startDaemon(url, [
      '--poll-interval-ms', '200',
      '--token-mode', 'reusable',
      '--max-connections-per-user', String(perUser * 2 + 5),
      '--max-buffered-bytes', String(MAX_BUFFERED_BYTES),
      '--ping-interval-sec', String(PING_INTERVAL_SEC),
    ]);
    const daemon = d;
    workers = await LoadWorkers.start(o.workers);
    const cpus = os.cpus();
    const churnTotal = Math.round((o.connections * o.churnPercent) / 100);
    console.log(`teampass-ws soak — ${engine}, Node ${process.version}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}; loopback only`);
    console.log(
      `${count(o.connections)} connections (${o.workers} load workers, source addresses ${LOCAL_ADDRESSES[0]}–${LOCAL_ADDRESSES.length}) for ${o.durationSec} s: ` +
        `${o.eventsPerSec} events/s to folders and users, a broadcast every ${BROADCAST_EVERY_SEC} s, ${BULK_EVENTS_PER_SEC} × ${BULK_EVENT_BYTES / 1024} KiB/s to one folder; ` +
        `churn ${count(churnTotal)} every ${CHURN_EVERY_SEC} s (?since=); ${o.slowConsumers} slow consumers at a time (paused ${SLOW_PAUSE_MS / 1000} s, max_buffered_bytes ${MAX_BUFFERED_BYTES / 1024} KiB); heartbeat every ${PING_INTERVAL_SEC} s`,
    );

    await sleep(SETTLE_MS);
    const before = await resources(daemon);
    const sinceId = Number(((await db.knex(db.t.events).max('id as id').first()) as { id: number | null } | undefined)?.id ?? 0);
    const split = shares(o.connections, o.workers);
    const slowSplit = shares(o.slowConsumers, o.workers);
    const churnSplit = shares(churnTotal, o.workers);
    const t0 = Date.now();
    const opened = await workers.each<{ opened: number }>((i) => ({
      type: 'soak-open',
      url: `ws://127.0.0.1:${daemon.port}/ws`,
      users: seeded.users,
      first: split[i]!.first,
      count: split[i]!.count,
      sinceId,
      localAddresses: LOCAL_ADDRESSES,
      concurrency: HANDSHAKES_IN_FLIGHT_PER_WORKER,
      timeoutMs: Math.max(180_000, o.connections * OPEN_MS_PER_CONNECTION),
      churnEveryMs: CHURN_EVERY_SEC * 1000,
      churnCount: churnSplit[i]!.count,
      slowConsumers: slowSplit[i]!.count,
      slowUsers: seeded.slowUsers.slice(slowSplit[i]!.first, slowSplit[i]!.first + slowSplit[i]!.count),
      slowPauseMs: SLOW_PAUSE_MS,
    }));
    const openedTotal = opened.reduce((a, r) => a + r.opened, 0);
    if (openedTotal !== o.connections) throw new Error(`opened ${openedTotal} of ${o.connections} connections`);
    console.log(`connected ${count(o.connections)} in ${((Date.now() - t0) / 1000).toFixed(1)} s; events for ${o.durationSec} s from now`);
    await sleep(SETTLE_MS);
    const atStart = await resources(daemon);

    const producer = new SoakProducer(db, {
      wakePort: daemon.wakePort,
      eventsPerSec: o.eventsPerSec,
      broadcastEverySec: BROADCAST_EVERY_SEC,
      itemFolders: seeded.itemFolders,
      userIds: seeded.users.map((u) => u.id),
      bulkPerSec: BULK_EVENTS_PER_SEC,
      bulkBytes: BULK_EVENT_BYTES,
      bulkFolder: seeded.bulkFolder,
    });
    const producingFrom = Date.now();
    const watch = new MemoryWatch(daemon.pid, daemon.port, producingFrom, SAMPLE_EVERY_MS);
    const progressEveryMs = Math.max(10, Math.round(o.durationSec / 10)) * 1000;
    const progress = setInterval(() => {
      void workers!.each<SoakProgress>(() => ({ type: 'soak-progress' })).then((parts) => {
        const p = sumProgress(parts);
        const last = watch.samples[watch.samples.length - 1];
        const memory = last ? `RSS ${(last.rss / 1048576).toFixed(1)} MiB (V8 heap committed ${(last.heapTotal / 1048576).toFixed(1)}), heap used ${(last.heapUsed / 1048576).toFixed(1)} MiB` : '';
        const slow = Object.values(p.slowCloses).reduce((a, b) => a + b, 0);
        console.log(
          `  ${String(Math.round((Date.now() - producingFrom) / 1000)).padStart(5)} s  ${count(p.live)} live, ${count(producer.small)} + ${count(producer.broadcasts)} + ${count(producer.bulk)} events, ${count(p.eventFrames)} frames, ${count(p.reconnects)} reconnects (${count(p.reconnectFailures)} failed${p.reconnectFailures > 0 ? `: ${reasons(p.failureReasons)}` : ''}), ${slow} slow closes; ${memory}`,
        );
      }, () => undefined);
    }, progressEveryMs);
    try {
      await producer.run(producingFrom + o.durationSec * 1000);
    } finally {
      clearInterval(progress);
    }
    const samples = watch.stop();

    const quiet = sumProgress(await workers.each<SoakProgress>(() => ({ type: 'soak-quiesce', timeoutMs: QUIESCE_TIMEOUT_MS })));
    const endId = await producer.endMarker();
    const reached = (await workers.each<{ reached: number }>(() => ({ type: 'soak-await', eventId: endId, timeoutMs: DRAIN_TIMEOUT_MS }))).reduce((a, r) => a + r.reached, 0);
    await sleep(SETTLE_MS);
    const atEnd = await resources(daemon);
    const tally = sumTallies(await workers.each<SoakTally>(() => ({ type: 'soak-tally', events: producer.events })));
    await workers.closeAll();
    await waitForConnections(daemon, 0, 60_000);
    await sleep(SETTLE_MS);
    const after = await resources(daemon);
    if (daemon.cli.child.exitCode !== null) throw new Error(`the daemon exited (${daemon.cli.child.exitCode}) during the soak:\n${daemon.cli.output()}`);

    const report = soakReport({
      o,
      samples,
      unanswered: { count: watch.unanswered, first: watch.firstUnanswered },
      tally,
      liveAfterQuiesce: quiet.live,
      reachedEnd: reached,
      events: { small: producer.small, broadcasts: producer.broadcasts, bulk: producer.bulk },
      resources: { before, atStart, atEnd, after },
    });
    for (const line of report.lines) console.log(line);
    if (o.samplesFile) appendFileSync(o.samplesFile, samplesCsv(samples));
    console.log(`soak ran ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return report.passed ? 0 : 1;
  } catch (err) {
    if (d) console.error(`the daemon's last log lines:\n${d.cli.output().split('\n').slice(-DAEMON_LOG_LINES).join('\n')}`);
    throw err;
  } finally {
    workers?.stop();
    await d?.cli.stop();
    await db.close();
  }
}

let options: SoakOptions;
try {
  options = soakOptionsFromEnv(process.env);
  if (options.samplesFile) startSamplesFile(options.samplesFile);
} catch (err) {
  console.error(`soak failed: ${(err as Error).message}`);
  process.exit(1);
}
runBench('soak', (options.durationSec + 30 * 60) * 1000, () => soak(options));
