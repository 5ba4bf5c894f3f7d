import { expect } from 'chai';
import type { Database } from '../../src/db/index.js';
import { onMariaDb } from '../helpers/backends.js';
import { addFolder, addRole, assignRole, issueToken, seedUser } from '../helpers/teampass-fixture.js';
import type { TestWsClient } from '../helpers/ws-client.js';
import { connected, useServerSuite, waitFor } from './server-harness.js';

const CONNECTIONS = 200;
const CONNECTIONS_PER_USER = 3;
const FOLDERS = 10;
const SUBSCRIBES = 3;

/** Statements MariaDB ran so far, every client together. */
async function statements(db: Database): Promise<number> {
  const [rows] = (await db.knex.raw("SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_select', 'Com_insert', 'Com_update', 'Com_delete')")) as [Array<{ Value: string }>];
  return rows.reduce((sum, r) => sum + Number(r.Value), 0);
}

onMariaDb('serve: a connect storm batches its SQL [mariadb]', (backend) => {
  const suite = useServerSuite(backend);

  it(`runs at most 2 statements per new connection when ${CONNECTIONS} clients connect at once, each with a token and ${SUBSCRIBES} subscribes`, async function () {
    this.timeout(120_000);
    const db = suite.db;
    const folders: number[] = [];
    for (let i = 0; i < FOLDERS; i += 1) folders.push(await addFolder(db, { title: `storm${i}` }));
    const role = await addRole(db, Object.fromEntries(folders.map((f) => [f, 'W'])));
    const tokens: Array<{ userId: number; token: string }> = [];
    for (let u = 0; u < Math.ceil(CONNECTIONS / CONNECTIONS_PER_USER); u += 1) {
      const user = await seedUser(db);
      await assignRole(db, user.id, role);
      for (let c = 0; c < CONNECTIONS_PER_USER && tokens.length < CONNECTIONS; c += 1) tokens.push({ userId: user.id, token: await issueToken(db, user.id) });
    }
    // No periodic session check or access refresh inside the storm: only what connecting costs is counted.
    const srv = await suite.start({ config: { session_check_sec: 3600, access_refresh_sec: 3600 } });

    const before = await statements(db);
    const clients: TestWsClient[] = await Promise.all(tokens.map((t) => srv.client(`?token=${t.token}`)));
    const frames = await Promise.all(clients.map((c) => connected(c)));
    expect(frames.map((f) => [f.type, f.user_id])).to.deep.equal(tokens.map((t) => ['connected', t.userId]));
    const replies = await Promise.all(
      clients.flatMap((c, i) =>
        Array.from({ length: SUBSCRIBES }, (_, s) =>
          c.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folders[(i + s) % FOLDERS] }, request_id: `s${s}` }, 30_000),
        ),
      ),
    );
    expect(replies.every((r) => r.action === 'subscribed')).to.equal(true, JSON.stringify(replies.find((r) => r.action !== 'subscribed')));
    // Every websocket_connections row is written (the reconnect tokens were, before `connected`).
    await waitFor(async () => Number((await db.knex(db.t.connections).count({ n: '*' }).first())?.n) === CONNECTIONS, 'every connection row', 30_000);
    const after = await statements(db);
    expect(Number((await db.knex(db.t.tokens).count({ n: '*' }).first())?.n)).to.equal(2 * CONNECTIONS);
    const perConnection = (after - before) / CONNECTIONS;
    console.log(`      SQL statements per new connection: ${perConnection.toFixed(2)}`);
    expect(perConnection).to.be.at.most(2);
  });
});
