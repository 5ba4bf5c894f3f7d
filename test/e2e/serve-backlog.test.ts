import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { LISTEN_BACKLOG } from '../../src/server/port-gate.js';
import { cleanupTempDirs, forEachBackend } from '../helpers/backends.js';
import { startCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mariadb.js';
import { createTeampassDatabase } from '../helpers/teampass-fixture.js';

/** The accept queue of a listening TCP port as the kernel reports it (ss's Send-Q of a LISTEN socket). */
function acceptQueueOf(port: number): number {
  const r = spawnSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ss failed: ${r.stderr}`);
  const fields = r.stdout.trim().split(/\s+/);
  return Number(fields[2]);
}

forEachBackend('serve: the accept queue holds a reconnect storm', (backend) => {
  after(() => cleanupTempDirs());

  it(`listens with a backlog of ${LISTEN_BACKLOG} (at most net.core.somaxconn), not Node's 511`, async function () {
    this.timeout(60_000);
    const url = await backend().newDatabaseUrl();
    const db = await createTeampassDatabase(url);
    await db.close();
    const port = await freePort();
    const cli = startCli(['serve', '--db', url, '--host', '127.0.0.1', '--port', String(port)]);
    try {
      await cli.waitFor(/teampass-ws listening on ws:\/\/127\.0\.0\.1:\d+/, 30_000);
      const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
      expect(acceptQueueOf(port)).to.equal(Math.min(LISTEN_BACKLOG, somaxconn));
    } finally {
      await cli.stop();
    }
  });
});
