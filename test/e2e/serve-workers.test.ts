import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { sendWake } from '../../src/ops/wake.js';
import type { Database } from '../../src/db/index.js';
import { tempDir } from '../helpers/backends.js';
import { runCli, startCli, type RunningCli } from '../helpers/cli.js';
import { freePort, mariaDb, type MariaDbServer } from '../helpers/mariadb.js';
import { addFolder, addRole, assignRole, createTeampassDatabase, issueToken, seedUser } from '../helpers/teampass-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { closeAll, connect, type TestWsClient } from '../helpers/ws-client.js';

/** /healthz's instance, over a connection of its own (a kept-alive one stays with one worker). */
function instanceOf(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        try {
          resolve((JSON.parse(body) as { instance?: string }).instance);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('error', () => resolve(undefined));
  });
}

/** The instances that answer /healthz over `tries` requests. */
async function instancesAnswering(port: number, tries = 12): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < tries; i += 1) {
    const instance = await instanceOf(port);
    if (instance) seen.add(instance);
  }
  return seen;
}

const childPids = (pid: number): number[] =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

describe('serve --workers (the CLI as a process)', function () {
  it('--workers 0 and --workers abc are one-line config errors', async function () {
    this.timeout(60_000);
    for (const bad of ['0', 'abc']) {
      const r = await runCli(['serve', '--db', 'sqlite::memory:', '--port', String(await freePort()), '--workers', bad]);
      expect(r.code, r.stderr).to.equal(1);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines[0], r.stderr).to.match(/^✖ .*"workers".*1 to 64.*auto/);
      expect(lines.length, r.stderr).to.be.at.most(2);
    }
  });

  describe('two workers on one MariaDB [e2e]', function () {
    let server: MariaDbServer;
    let db: Database | undefined;
    let daemon: RunningCli | undefined;
    const clients: TestWsClient[] = [];

    before(async function () {
      this.timeout(120_000);
      const s = await mariaDb();
      if (!s) this.skip();
      server = s!;
    });

    afterEach(async () => {
      await closeAll(clients.splice(0));
      if (daemon && daemon.child.exitCode === null) await daemon.stop();
      await db?.close();
    });

    it('serves one port from two workers, each delivering through its own poller and wake-up, restarts a killed worker, stops cleanly', async function () {
      this.timeout(240_000);
      const url = await server.createDatabase();
      db = await createTeampassDatabase(url);
      const folder = await addFolder(db, { title: 'Servers' });
      const alice = await seedUser(db, { login: 'alice' });
      await assignRole(db, alice.id, await addRole(db, { [folder]: 'W' }));
      const port = await freePort();
      const wakePort = await freePort();
      const logFile = path.join(tempDir('tpws-workers-'), 'ws.log');
      const logged = (message: string) => readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes(`"message":"${message}`)).length;
      // Polls a minute apart: an event arrives within the test only through the wake-up datagram.
      daemon = startCli(['serve', '--db', url, '--port', String(port), '--workers', '2', '--poll-interval-ms', '60000', '--wake-port', String(wakePort), '--log-file', logFile]);
      const d = daemon;
      await waitFor(async () => {
        if (d.child.exitCode !== null) throw new Error(`serve exited:\n${d.output()}`);
        return (await instancesAnswering(port, 4)).size === 2;
      }, 'both workers answer /healthz', 60_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${d.output()}`);
      });
      const instances = [...(await instancesAnswering(port))].sort();
      expect(instances).to.have.length(2);
      expect(instances[0]).to.match(/:\d+\/1$/);
      expect(instances[1]).to.match(/:\d+\/2$/);

      // Clients until each worker holds at least one (the rows name their instance).
      const rowInstances = async () =>
        new Set((await db!.knex(db!.t.connections).whereNull('disconnected_at').select('resource_id')).map((r: { resource_id: string }) => r.resource_id.replace(/-\d+$/, '')));
      while ((await rowInstances()).size < 2) {
        expect(clients.length, 'connections spread over both workers').to.be.below(5);
        const c = await connect(`ws://127.0.0.1:${port}/ws?token=${await issueToken(db, alice.id)}`);
        clients.push(c);
        expect((await c.next((f) => f.type === 'connected' || f.type === 'error')).type).to.equal('connected');
        expect((await c.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } })).status).to.equal('success');
      }
      const [id] = await db.knex(db.t.events).insert({ event_type: 'item_updated', target_type: 'folder', target_id: folder, payload: JSON.stringify({ folder_id: folder }) });
      await sendWake(wakePort);
      for (const [i, c] of clients.entries()) {
        await waitFor(() => c.received.some((f) => f.type === 'event' && f.event_id === id), `client ${i} has the event`, 20_000);
      }
      for (const c of clients) expect(c.received.filter((f) => f.type === 'event').map((f) => f.event_id)).to.deep.equal([id]);

      // A worker killed outright: the primary forks another in its place, the port keeps answering.
      const before = childPids(d.child.pid!);
      expect(before).to.have.length(2);
      process.kill(before[0]!, 'SIGKILL');
      await waitFor(() => {
        const now = childPids(d.child.pid!);
        return now.length === 2 && !now.includes(before[0]!);
      }, 'the primary restarts the killed worker', 30_000);
      await waitFor(async () => (await instancesAnswering(port, 6)).size === 2, 'both workers answer again', 30_000);
      expect(logged('Worker died')).to.equal(1);

      // SIGHUP (log rotation): the primary and every worker reopen the log file.
      process.kill(d.child.pid!, 'SIGHUP');
      await waitFor(() => logged('Log file reopened') === 3, 'the primary and both workers reopen the log', 20_000);

      // SIGTERM: every worker closes its clients and rows, the primary exits 0.
      expect(await d.stop()).to.equal(0);
      const open = await db.knex(db.t.connections).whereNull('disconnected_at').count({ n: '*' });
      expect(Number(open[0]!.n)).to.equal(0);
    });
  });
});
