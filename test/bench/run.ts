/**
 * `npm run bench`: teampass-ws (`serve` as a process, built in dist/) beside a bare `ws` fan-out
 * server measured in the same run, each fresh per round, N clients held by load worker
 * processes on loopback: connect rate, idle memory, folder-event latency at load, broadcast,
 * reconnect storm (with why any client retried and SQL per new connection), serve --workers 1 vs
 * 2, the idle poll cost, and how soon `serve` accepts TCP after it is spawned (startup.ts). Ends
 * with one table of medians over the rounds.
 */
import os from 'node:os';
import type { Database } from '../../src/db/index.js';
import { mariaDb } from '../helpers/mariadb.js';
import { createTeampassDatabase } from '../helpers/teampass-fixture.js';
import { benchOptionsFromEnv, type BenchOptions } from './bench-options.js';
import { databaseFactory, runBench } from './bench-main.js';
import { idlePollCost } from './idle-poll.js';
import { startupTime } from './startup.js';
import { LoadWorkers, LOCAL_ADDRESSES } from './load-workers.js';
import { EVENTS_PER_SECOND, RETRY_DELAY_MS, retryCount, runRound, type RoundParts, type RoundResult } from './round.js';
import { count, duration, median, mergeRetries, reasons, summaryTable, type WorkersRow } from './summary.js';
import { kib } from './table.js';
import { CONNECTIONS_PER_USER, daemonTarget, FOLDERS, rawTarget, seedFleet, SUBSCRIPTIONS_PER_CLIENT, UNKNOWN_OPTION, type Target } from './targets.js';

/** The whole run must end well within this. */
const WATCHDOG_MS = 20 * 60_000;
const ALL: RoundParts = { latency: true, broadcast: true, storm: true };

/** Statements MariaDB ran so far, all clients together: Com_select + Com_insert + Com_update + Com_delete. */
function sqlCounter(db: Database): (() => Promise<number>) | undefined {
  if (db.client !== 'mysql') return undefined;
  return async () => {
    const [rows] = (await db.knex.raw("SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_select', 'Com_insert', 'Com_update', 'Com_delete')")) as [Array<{ Value: string }>];
    return rows.reduce((sum, r) => sum + Number(r.Value), 0);
  };
}

function roundLine(label: string, r: RoundResult): string {
  const parts = [`${count(r.connectsPerSecond)} conn/s (server CPU ${r.cpuMsPerConnection.toFixed(2)} ms/conn)`, `RSS ${kib(r.rssPerConnection)}/conn`, `heap ${kib(r.heapPerConnection)}/conn`];
  if (retryCount(r.connectRetries) > 0) parts.push(`connect retries: ${reasons(r.connectRetries)}`);
  if (r.latency) parts.push(`p50 ${duration(r.latency.p50)} p99 ${duration(r.latency.p99)} (${count(r.latency.deliveries)} of ${count(r.latency.expected)} deliveries, ${count(r.latency.perSecond)}/s)`);
  if (r.broadcastMs !== undefined) parts.push(`broadcast ${duration(r.broadcastMs)}`);
  if (r.storm) parts.push(`storm ${duration(r.storm.ms)}, ${reasons(r.storm.retries)}${r.storm.refused && Object.keys(r.storm.refused).length > 0 ? ` (${reasons(r.storm.refused)})` : ''}${r.storm.sqlStatements !== undefined ? `, ${count(r.storm.sqlStatements)} SQL statements` : ''}`);
  return `  ${label.padEnd(12)} ${parts.join(' · ')}`;
}

/** A fresh TeamPass-shaped database with the fleet's users, and serve on it. */
async function withDaemon<T>(newDatabaseUrl: () => Promise<string>, n: number, extra: string[], use: (t: Target, db: Database) => Promise<T>): Promise<T> {
  const url = await newDatabaseUrl();
  const db = await createTeampassDatabase(url);
  try {
    const fleet = await seedFleet(db, n);
    const target = await daemonTarget(db, url, fleet, extra);
    try {
      return await use(target, db);
    } finally {
      await target.stop();
    }
  } finally {
    await db.close();
  }
}

async function withRaw<T>(use: (t: Target) => Promise<T>): Promise<T> {
  const target = await rawTarget();
  try {
    return await use(target);
  } finally {
    await target.stop();
  }
}

/** serve --workers 1, then 2: connect rate and latency at load; null rows while serve does not know the option. */
async function workersComparison(newDatabaseUrl: () => Promise<string>, o: BenchOptions, workers: LoadWorkers): Promise<WorkersRow> {
  const parts: RoundParts = { latency: true, broadcast: false, storm: false };
  const results: RoundResult[] = [];
  for (const k of [1, 2]) {
    try {
      const r = await withDaemon(newDatabaseUrl, o.connections, ['--workers', String(k)], (t) => runRound(t, workers, o.connections, o.loadSeconds, `w${k}`, parts));
      console.log(roundLine(`--workers ${k}`, r));
      results.push(r);
    } catch (err) {
      if (UNKNOWN_OPTION.test((err as Error).message)) {
        console.log('  serve rejects --workers: n/a (serve has no --workers yet)');
        return { one: null, two: null };
      }
      throw err;
    }
  }
  return { one: results[0]!, two: results[1]! };
}

async function main(): Promise<void> {
  const started = Date.now();
  const o = benchOptionsFromEnv(process.env);
  const server = await mariaDb();
  const newDatabaseUrl = databaseFactory(server);
  const n = o.connections;
  const cpus = os.cpus();
  const probe = await createTeampassDatabase(await newDatabaseUrl());
  const engine = probe.client === 'mysql' ? ((await probe.knex.raw('SELECT VERSION() AS v')) as [[{ v: string }]])[0][0].v : 'SQLite (no MariaDB here)';
  await probe.close();
  console.log(`teampass-ws bench — ${engine}, Node ${process.version}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}${o.quick ? ' (quick run)' : ''}`);
  console.log(
    `N = ${count(n)} clients in ${o.workers} load worker processes (source addresses ${LOCAL_ADDRESSES[0]}–${LOCAL_ADDRESSES.length}), loopback only; ${FOLDERS} folders, ${SUBSCRIPTIONS_PER_CLIENT} subscriptions per client, ` +
      `${CONNECTIONS_PER_USER} connections per user (per-user cap at its default), ${EVENTS_PER_SECOND} folder events/s for ${o.loadSeconds} s; a fresh server per round, ${o.rounds} rounds, medians shown`,
  );
  console.log(`teampass-ws: serve --token-mode reusable, the database over its unix socket where it has one, wake-up datagram after each INSERT; raw ws: the same connected/subscribe/fan-out with no auth, database or access check, the same listen backlog, Node's HTTP timeouts; a failed attempt retries after ${RETRY_DELAY_MS} ms ± 50 %`);
  console.log('');

  const workers = await LoadWorkers.start(o.workers);
  try {
    const raw: RoundResult[] = [];
    const ours: RoundResult[] = [];
    const sqlPerConnection: number[] = [];
    for (let round = 1; round <= o.rounds; round += 1) {
      console.log(`round ${round} of ${o.rounds}`);
      const r = await withRaw((t) => runRound(t, workers, n, o.loadSeconds, `raw${round}`, ALL));
      console.log(roundLine('raw ws', r));
      raw.push(r);
      const d = await withDaemon(newDatabaseUrl, n, [], (t, db) => runRound(t, workers, n, o.loadSeconds, `tp${round}`, { ...ALL, sqlStatements: sqlCounter(db) }));
      console.log(roundLine('teampass-ws', d));
      ours.push(d);
      if (d.storm?.sqlStatements !== undefined) sqlPerConnection.push(d.storm.sqlStatements / n);
    }
    console.log('');
    console.log(`reconnect storm, why clients retried (all rounds): raw ws: ${reasons(mergeRetries(raw.map((r) => r.storm?.retries ?? {})))}; teampass-ws: ${reasons(mergeRetries(ours.map((r) => r.storm?.retries ?? {})))}; the daemon's own count: ${reasons(mergeRetries(ours.map((r) => r.storm?.refused ?? {})))}`);
    console.log(`SQL statements per new connection in the storm = (Com_select + Com_insert + Com_update + Com_delete after − before) / N, the poller's polls included`);
    console.log('');

    console.log('serve --workers 1 vs 2');
    const workersRow = await workersComparison(newDatabaseUrl, o, workers);
    console.log('');

    const url = await newDatabaseUrl();
    const db = await createTeampassDatabase(url);
    let idle;
    try {
      idle = await idlePollCost(db, url, { recentRows: o.idleRecentRows, oldRows: o.idleOldRows, seconds: o.idleSeconds, sqlStatements: sqlCounter(db) });
    } finally {
      await db.close();
    }
    const rowsLabel = `${count(idle.recentRows)} events + ${count(idle.oldRows)} older rows`;
    console.log(`idle poll cost — ${rowsLabel} in websocket_events, no clients, ${idle.seconds.toFixed(0)} s`);
    console.log(`  the poller's query (EventsRepository.readAfter): ${idle.query}`);
    for (const line of idle.explain) console.log(`  EXPLAIN  ${line}`);
    console.log(`  CPU (utime + stime from /proc/<pid>/stat): ${(idle.cpuShare * 100).toFixed(2)} % of a core${idle.statementsPerSecond === null ? '' : `; ${idle.statementsPerSecond.toFixed(1)} SQL statements/s`}`);
    console.log('');

    for (const line of await startupTime(newDatabaseUrl)) console.log(line);
    console.log('');

    console.log(`summary — medians of ${o.rounds} rounds (ratio: teampass-ws / raw ws)`);
    for (const line of summaryTable(n, raw, ours, workersRow, { cpuShare: idle.cpuShare, rows: rowsLabel }, sqlPerConnection.length ? median(sqlPerConnection) : null)) console.log(line);
  } finally {
    workers.stop();
  }
  console.log('');
  console.log(`bench ran ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

runBench('bench', WATCHDOG_MS, async () => {
  await main();
  return 0;
});
