import { expect } from 'chai';
import type { Database } from '../../src/db/index.js';
import { forEachBackend, onMariaDb } from '../helpers/backends.js';
import { addFolder, grantFolder, issueToken, seedUser, type SeededUser } from '../helpers/teampass-fixture.js';
import { PRECISE_CLOSE_CODES, type TestWsClient } from '../helpers/ws-client.js';
import { connected, useServerSuite, waitFor, type TestServer } from './server-harness.js';

const eventIds = (client: TestWsClient) => client.received.filter((f) => f.type === 'event').map((f) => f.event_id as number);

onMariaDb('serve: a replay reads only the events its client may receive', (backend) => {
  const suite = useServerSuite(backend);

  const bytesSent = async (db: Database) => {
    const [rows] = (await db.knex.raw("SHOW GLOBAL STATUS LIKE 'Bytes_sent'")) as [Array<{ Value: string }>];
    return Number(rows[0]!.Value);
  };

  it("does not read other folders' large events from the database", async () => {
    const db = suite.db;
    const user = await seedUser(db);
    const mine = await addFolder(db);
    const other = await addFolder(db);
    await grantFolder(db, user.id, mine);
    const large = JSON.stringify({ blob: 'x'.repeat(64 * 1024) });
    for (let i = 0; i < 40; i += 1) await db.knex(db.t.events).insert({ event_type: 'item_updated', target_type: 'folder', target_id: other, payload: large });
    const wanted: number[] = [];
    for (const [target, targetId] of [['user', user.id], ['folder', mine], ['broadcast', null]] as const) {
      const [id] = await db.knex(db.t.events).insert({ event_type: 'item_updated', target_type: target, target_id: targetId, payload: '{"item_id":1}' });
      wanted.push(Number(id));
    }
    // The poller starts after these rows: only the replays read them.
    const srv = await suite.start({ bridge: true });
    const before = await bytesSent(db);
    const client = await srv.client(`?token=${await issueToken(db, user.id)}&since=0`);
    expect(await connected(client)).to.deep.include({ type: 'connected', recovered: true });
    const reply = await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: mine, since_event_id: 0 } });
    expect(reply).to.deep.include({ action: 'subscribed', recovered: true });
    const sent = (await bytesSent(db)) - before;
    expect([...eventIds(client)].sort((a, b) => a - b)).to.deep.equal(wanted);
    // 40 × 64 KiB of the other folder's events is 2.5 MiB; the queries themselves are a few KiB.
    expect(sent, `bytes the database sent for two replays`).to.be.below(256 * 1024);
  });
});

forEachBackend('serve: a replay that cannot read the events closes the client so it comes back', (backend) => {
  const suite = useServerSuite(backend);
  let db: Database;
  let srv: TestServer;
  let user: SeededUser;
  let folder: number;
  let token: string;

  beforeEach(async () => {
    db = suite.db;
    user = await seedUser(db);
    folder = await addFolder(db);
    await grantFolder(db, user.id, folder);
    token = await issueToken(db, user.id);
    srv = await suite.start({ bridge: true });
  });

  const hideEvents = () => db.knex.schema.renameTable(db.t.events, `${db.t.events}_away`);
  const restoreEvents = () => db.knex.schema.renameTable(`${db.t.events}_away`, db.t.events);

  it('at the upgrade: server_error and 1011 instead of connected with recovered: false, one log line for many', async () => {
    await hideEvents();
    try {
      for (let i = 0; i < 3; i += 1) {
        const client = await srv.client(`?token=${token}&since=0`, PRECISE_CLOSE_CODES);
        expect(await connected(client)).to.deep.include({ type: 'error', error_code: 'server_error' });
        expect((await client.waitClose()).code).to.equal(1011);
      }
    } finally {
      await restoreEvents();
    }
    const failures = srv.logs().filter((l) => String(l.message).startsWith('Replay failed'));
    expect(failures, 'log lines for three failed replays within a minute').to.have.length(1);

    const [id] = await db.knex(db.t.events).insert({ event_type: 'item_updated', target_type: 'user', target_id: user.id, payload: '{"item_id":1}' });
    const again = await srv.client(`?token=${token}&since=0`, PRECISE_CLOSE_CODES);
    expect(await connected(again)).to.deep.include({ type: 'connected', recovered: true });
    await waitFor(() => eventIds(again).includes(Number(id)));
  });

  it('at a subscribe with since_event_id: server_error and 1011 instead of subscribed with recovered: false', async () => {
    const client = await srv.client(`?token=${token}`, PRECISE_CLOSE_CODES);
    expect(await connected(client)).to.deep.include({ type: 'connected' });
    await hideEvents();
    try {
      client.send({ action: 'subscribe', channel: 'folder', data: { folder_id: folder, since_event_id: 0 }, request_id: 'r1' });
      expect(await client.next((f) => f.type === 'error' || f.type === 'response')).to.deep.include({ type: 'error', error_code: 'server_error' });
      expect((await client.waitClose()).code).to.equal(1011);
    } finally {
      await restoreEvents();
    }
  });
});
