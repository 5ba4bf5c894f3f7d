import { expect } from 'chai';
import type { Database } from '../../src/db/index.js';
import type { HealthBody } from '../../src/server/index.js';
import { cleanupTempDirs, forEachBackend } from '../helpers/backends.js';
import { startCli, type RunningCli } from '../helpers/cli.js';
import { freePort, mariaDb, type MariaDbServer } from '../helpers/mariadb.js';
import { createTeampassDatabase } from '../helpers/teampass-fixture.js';
import { waitFor } from '../helpers/wait.js';

const LISTENING = /teampass-ws listening on ws:\/\/127\.0\.0\.1:(\d+)/;

async function startDaemon(url: string, extra: string[] = []): Promise<{ cli: RunningCli; base: string }> {
  const port = await freePort();
  const cli = startCli(['serve', '--db', url, '--host', '127.0.0.1', '--port', String(port), '--poll-interval-ms', '100', ...extra]);
  try {
    await cli.waitFor(LISTENING, 60_000);
  } catch (err) {
    await cli.stop();
    throw err;
  }
  return { cli, base: `http://127.0.0.1:${port}` };
}

async function health(base: string): Promise<{ status: number; body: HealthBody }> {
  const res = await fetch(`${base}/healthz`);
  return { status: res.status, body: (await res.json()) as HealthBody };
}

async function waitForStatus(base: string, status: number, timeoutMs: number): Promise<HealthBody> {
  let last: { status: number; body: HealthBody } | undefined;
  await waitFor(async () => (last = await health(base)).status === status, () => `/healthz answers ${status}; it stayed ${last?.status}: ${JSON.stringify(last?.body)}`, timeoutMs, 200);
  return last!.body;
}

forEachBackend('/healthz of a running daemon', (backend) => {
  let db: Database;
  let daemon: { cli: RunningCli; base: string } | undefined;

  afterEach(async function () {
    this.timeout(30_000);
    await daemon?.cli.stop();
    daemon = undefined;
    await db?.close();
  });
  after(cleanupTempDirs);

  it('answers 200 with the poller keeping up and the database reachable', async function () {
    this.timeout(90_000);
    const url = await backend().newDatabaseUrl();
    db = await createTeampassDatabase(url);
    await db.knex(db.t.events).insert({ event_type: 'system_maintenance', target_type: 'broadcast', target_id: null, payload: '{"message":"x"}' });
    daemon = await startDaemon(url);
    const r = await health(daemon.base);
    expect(r.status).to.equal(200);
    expect(r.body).to.include({ status: 'ok', service: 'teampass-ws', connections: 0, max_lag_ms: 30_000 });
    expect(r.body.db).to.deep.equal({ reachable: true, client: db.client });
    expect(r.body.last_event_id, 'the poller starts at the newest event').to.equal(1);
    expect(r.body.poll_lag_ms).to.be.a('number').lessThan(30_000);
    expect(r.body.instance).to.match(/:\d+$/);
    expect(r.body.problems).to.deep.equal([]);
  });
});

describe('/healthz of a running daemon while MariaDB is down', () => {
  let server: MariaDbServer;
  let db: Database;
  let daemon: { cli: RunningCli; base: string } | undefined;

  before(async function () {
    this.timeout(120_000);
    const found = await mariaDb();
    if (!found) this.skip(); // only on a developer machine without MariaDB; CI=true fails instead
    server = found;
  });
  after(async function () {
    this.timeout(30_000);
    await daemon?.cli.stop();
    await db?.close();
  });

  it('flips to 503 while the database is stopped, and back to 200 once it is back', async function () {
    this.timeout(120_000);
    const url = await server.createDatabase();
    db = await createTeampassDatabase(url);
    // A short lag bound: the poller failing against a stopped database shows in the lag too.
    daemon = await startDaemon(url, ['--healthz-max-lag-ms', '2000']);
    expect((await health(daemon.base)).status).to.equal(200);

    await server.stop();
    try {
      const down = await waitForStatus(daemon.base, 503, 15_000);
      expect(down.status).to.equal('degraded');
      expect(down.db.reachable).to.equal(false);
      expect(down.problems.join('; ')).to.contain('database unreachable');
    } finally {
      // The server is shared by the whole run: restart it at once, whatever happened above.
      await server.start();
    }
    const up = await waitForStatus(daemon.base, 200, 30_000);
    expect(up.db.reachable).to.equal(true);
    expect(up.poll_lag_ms).to.be.lessThan(2000);
  });
});
