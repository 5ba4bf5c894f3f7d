import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../../src/db/index.js';
import { startCli, type RunningCli } from '../helpers/cli.js';
import { freePort, mariaDb, type MariaDbServer } from '../helpers/mariadb.js';
import { addFolder, addRole, assignRole, createTeampassDatabase, issueToken, seedUser } from '../helpers/teampass-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { closeAll, connect, type Frame, type TestWsClient } from '../helpers/ws-client.js';

interface Health {
  status: string;
  db: { reachable: boolean };
  last_event_id: number | null;
}

async function health(port: number): Promise<{ code: number; body: Health } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    return { code: res.status, body: (await res.json()) as Health };
  } catch {
    return undefined;
  }
}


const eventIds = (c: TestWsClient) => c.received.filter((f: Frame) => f.type === 'event').map((f: Frame) => f.event_id as number);

/** Several `serve` processes against one MariaDB, as behind a load balancer. */
describe('event bridge: three serve processes on one MariaDB [e2e]', function () {
  let server: MariaDbServer;
  let db: Database | undefined;
  const daemons: RunningCli[] = [];
  const clients: TestWsClient[] = [];

  before(async function () {
    this.timeout(120_000);
    const s = await mariaDb();
    if (!s) this.skip();
    server = s!;
  });

  afterEach(async () => {
    await closeAll(clients.splice(0));
    await Promise.all(daemons.splice(0).map((d) => d.stop()));
    await db?.close();
  });

  it('each deliver every event to their own clients, through a MariaDB restart, with nothing lost or doubled', async function () {
    this.timeout(240_000);
    const url = await server.createDatabase();
    db = await createTeampassDatabase(url);
    const folder = await addFolder(db, { title: 'Servers' });
    const alice = await seedUser(db, { login: 'alice' });
    const bob = await seedUser(db, { login: 'bob' });
    await assignRole(db, alice.id, await addRole(db, { [folder]: 'W' }));

    const ports = [await freePort(), await freePort(), await freePort()];
    for (const port of ports) {
      daemons.push(startCli(['serve', '--db', url, '--host', '127.0.0.1', '--port', String(port), '--poll-interval-ms', '50', '--log-level', 'info']));
    }
    for (const [i, port] of ports.entries()) {
      await waitFor(async () => {
        if (daemons[i]!.child.exitCode !== null) throw new Error(`serve on ${port} exited:\n${daemons[i]!.output()}`);
        return (await health(port))?.code === 200;
      }, `serve on ${port} is healthy`, 30_000);
    }

    const aliceOn: TestWsClient[] = [];
    const bobOn: TestWsClient[] = [];
    for (const port of ports) {
      const a = await connect(`ws://127.0.0.1:${port}/ws?token=${await issueToken(db, alice.id)}`);
      const b = await connect(`ws://127.0.0.1:${port}/ws?token=${await issueToken(db, bob.id)}`);
      clients.push(a, b);
      expect((await a.next((f) => f.type === 'connected' || f.type === 'error')).type).to.equal('connected');
      expect((await b.next((f) => f.type === 'connected' || f.type === 'error')).type).to.equal('connected');
      const sub = await a.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } });
      expect(sub.status, JSON.stringify(sub)).to.equal('success');
      aliceOn.push(a);
      bobOn.push(b);
    }

    // One producer connection per INSERT, as PHP requests do; retried while MariaDB is down.
    const forAlice: number[] = [];
    const forBob: number[] = [];
    const insert = async (n: number): Promise<void> => {
      const kinds = [
        { target_type: 'folder', target_id: folder, event_type: 'item_updated', to: [forAlice] },
        { target_type: 'user', target_id: alice.id, event_type: 'task_progress', to: [forAlice] },
        { target_type: 'user', target_id: bob.id, event_type: 'task_progress', to: [forBob] },
        { target_type: 'broadcast', target_id: null, event_type: 'system_maintenance', to: [forAlice, forBob] },
      ];
      const kind = kinds[n % kinds.length]!;
      for (;;) {
        try {
          const conn = await mysql.createConnection(url);
          try {
            const [res] = await conn.query(`INSERT INTO ${db!.t.events} (event_type, target_type, target_id, payload) VALUES (?, ?, ?, ?)`, [
              kind.event_type,
              kind.target_type,
              kind.target_id,
              JSON.stringify({ n, folder_id: folder }),
            ]);
            for (const list of kind.to) list.push((res as mysql.ResultSetHeader).insertId);
            return;
          } finally {
            await conn.end().catch(() => undefined);
          }
        } catch {
          await sleep(100);
        }
      }
    };
    const everyoneHasAll = () =>
      aliceOn.every((c) => eventIds(c).length >= forAlice.length) && bobOn.every((c) => eventIds(c).length >= forBob.length);

    for (let n = 0; n < 24; n += 1) await insert(n);
    await waitFor(everyoneHasAll, 'every client on every daemon has the first events', 20_000);

    // A stream with MariaDB restarted in its middle.
    let n = 24;
    for (; n < 36; n += 1) {
      await insert(n);
      await sleep(20);
    }
    await server.stop();
    let restarted = false;
    try {
      await waitFor(async () => (await health(ports[0]!))?.body.db.reachable === false, '/healthz reports the database unreachable', 20_000);
      await sleep(500);
      expect(clients.every((c) => !c.isClosed), 'clients stay connected during the outage').to.equal(true);
    } finally {
      await server.start();
      restarted = true;
    }
    expect(restarted).to.equal(true);
    for (; n < 60; n += 1) {
      await insert(n);
      await sleep(20);
    }
    await waitFor(everyoneHasAll, 'every client on every daemon has every event', 60_000);
    await sleep(300);
    for (const [i, c] of aliceOn.entries()) expect(eventIds(c), `alice on daemon ${i}`).to.deep.equal(forAlice);
    for (const [i, c] of bobOn.entries()) expect(eventIds(c), `bob on daemon ${i}`).to.deep.equal(forBob);
    expect(clients.every((c) => !c.isClosed)).to.equal(true);
    for (const port of ports) await waitFor(async () => (await health(port))?.code === 200, `serve on ${port} is healthy again`, 20_000);
  });
});
