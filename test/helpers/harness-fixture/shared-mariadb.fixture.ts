/**
 * Run by test/e2e/test-harness-cleanup.test.ts in a mocha of its own: boots the shared test
 * MariaDB, and prints its datadir and pid for the outer test to check that the run's root hook
 * stopped it and removed the datadir. It reaches the helper both ways a suite may: imported
 * (mocha loads spec files as CommonJS through tsx) and with import() (an ES module instance of
 * the same file); both must be the one server the root hook stops.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { mariaDb } from '../mariadb.js';

describe('the shared test MariaDB (fixture)', () => {
  it('boots', async () => {
    const imported = await import('../mariadb.js');
    const server = await imported.mariaDb();
    if (!server?.socketPath) throw new Error('no managed MariaDB here');
    const same = await mariaDb();
    if (same?.socketPath !== server.socketPath) throw new Error(`two test MariaDBs in one run: ${same?.socketPath} and ${server.socketPath}`);
    const dir = path.dirname(server.socketPath);
    const pid = readFileSync(path.join(dir, 'mysqld.pid'), 'utf8').trim();
    console.log(`FIXTURE_MARIADB ${JSON.stringify({ dir, pid: Number(pid) })}`);
  });
});
