/**
 * How soon `teampass-ws serve` accepts TCP after it is spawned: TeamPass's admin panel runs
 * `systemctl start teampass-websocket` and reports a failure if the port is closed 0.5 s later.
 * Ten starts on the given database; the time is from spawn to the first accepted connection.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mariadb.js';
import { acceptsTcp } from '../helpers/tcp.js';
import { createTeampassDatabase } from '../helpers/teampass-fixture.js';
import { track } from './children.js';

const STARTS = 10;
/** The admin panel's check. */
const PANEL_CHECK_MS = 500;

async function oneStart(dbUrl: string): Promise<number> {
  const port = await freePort();
  const spawnedAt = performance.now();
  const cli = startCli(['serve', '--db', dbUrl, '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn']);
  track(cli.child);
  try {
    for (;;) {
      if (await acceptsTcp(port)) return performance.now() - spawnedAt;
      if (cli.child.exitCode !== null) throw new Error(`serve exited (${cli.child.exitCode}) before listening:\n${cli.output()}`);
      if (performance.now() - spawnedAt > 30_000) throw new Error(`serve did not accept TCP within 30 s:\n${cli.output()}`);
      await sleep(2);
    }
  } finally {
    await cli.stop();
  }
}

/** The lines of the bench's start-time section. */
export async function startupTime(newDatabaseUrl: () => Promise<string>): Promise<string[]> {
  const url = await newDatabaseUrl();
  const db = await createTeampassDatabase(url);
  const engine = db.client === 'mysql' ? 'MariaDB' : 'SQLite (no MariaDB here)';
  await db.close();
  const times: number[] = [];
  for (let i = 0; i < STARTS; i += 1) times.push(await oneStart(url));
  const sorted = [...times].sort((a, b) => a - b);
  const median = (sorted[(STARTS - 1) >> 1]! + sorted[STARTS >> 1]!) / 2;
  const worst = sorted.at(-1)!;
  const late = times.filter((t) => t > PANEL_CHECK_MS).length;
  return [
    `start: spawn of \`teampass-ws serve\` → first accepted TCP connection, ${STARTS} starts on ${engine}`,
    `  median ${median.toFixed(0)} ms, worst ${worst.toFixed(0)} ms; ${late} of ${STARTS} past the admin panel's ${PANEL_CHECK_MS} ms check`,
  ];
}
