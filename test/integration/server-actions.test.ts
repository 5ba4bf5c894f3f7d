import { expect } from 'chai';
import type { Database } from '../../src/db/index.js';
import { forEachBackend } from '../helpers/backends.js';
import {
  addFolder,
  addItem,
  addKb,
  addRole,
  assignRole,
  issueToken,
  lockItem,
  lockKb,
  seedUser,
  setTeampassSetting,
  type SeededUser,
} from '../helpers/teampass-fixture.js';
import type { TestWsClient } from '../helpers/ws-client.js';
import { connected, useServerSuite, type TestServer } from './server-harness.js';

const now = () => Math.floor(Date.now() / 1000);

forEachBackend('serve: every client action, reply shapes as the PHP daemon', (backend) => {
  const suite = useServerSuite(backend);
  let db: Database;
  let srv: TestServer;
  let folder: number;
  let user: SeededUser;

  beforeEach(async () => {
    db = suite.db;
    folder = await addFolder(db, { title: 'Shared' });
    user = await seedUser(db, { login: 'alice', name: 'Alice', lastname: 'Martin' });
    await assignRole(db, user.id, await addRole(db, { [folder]: 'W' }));
    srv = await suite.start();
  });

  const open = async (who: SeededUser = user): Promise<TestWsClient> => {
    const client = await srv.client(`?token=${await issueToken(db, who.id)}`);
    expect((await connected(client)).type).to.equal('connected');
    return client;
  };

  it('subscribe / unsubscribe a folder', async () => {
    const client = await open();
    const reply = await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder }, request_id: 'req_s' });
    expect(reply).to.deep.equal({
      type: 'response',
      status: 'success',
      action: 'subscribed',
      channel: 'folder',
      folder_id: folder,
      locked_items: [],
      viewing_items: [],
      request_id: 'req_s',
    });
    expect([...srv.server.directory.folderSubscribers(folder)].map((t) => t.userId)).to.deep.equal([user.id]);
    expect(await client.request({ action: 'unsubscribe', channel: 'folder', data: { folder_id: folder }, request_id: 'req_u' })).to.deep.equal({
      type: 'response',
      status: 'success',
      action: 'unsubscribed',
      channel: 'folder',
      folder_id: folder,
      request_id: 'req_u',
    });
    expect([...srv.server.directory.folderSubscribers(folder)]).to.be.empty;
  });

  it('refuses a folder outside the user access with forbidden', async () => {
    const other = await addFolder(db);
    const client = await open();
    expect(await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: other }, request_id: 'f' })).to.deep.equal({
      type: 'error',
      error_code: 'forbidden',
      message: 'Access denied to this folder.',
      request_id: 'f',
    });
  });

  it('answers invalid_channel and a missing channel', async () => {
    const client = await open();
    expect(await client.request({ action: 'subscribe', channel: 'items', request_id: 'c1' })).to.deep.equal({
      type: 'error',
      error_code: 'invalid_channel',
      message: 'Channel \'items\' is not supported (use "folder" or "kb").',
      request_id: 'c1',
    });
    for (const channel of [undefined, null, 5, ['folder'], { folder: 1 }]) {
      const reply = await client.request({ action: 'unsubscribe', ...(channel === undefined ? {} : { channel }), data: { folder_id: folder } });
      expect(reply.error_code, `unsubscribe with channel ${JSON.stringify(channel)}`).to.equal('invalid_channel');
      expect(reply.message).to.match(/"folder" or "kb"/);
    }
  });

  it('refuses a folder_id that is not a folder id (non-numeric, zero, missing) with forbidden, admins included', async () => {
    const admin = await seedUser(db, { admin: true });
    for (const who of [user, admin]) {
      const client = await open(who);
      for (const folderId of ['abc', 0, '0', -3, '', [folder], 1e20, undefined]) {
        const reply = await client.request({ action: 'subscribe', channel: 'folder', data: folderId === undefined ? {} : { folder_id: folderId } });
        expect(reply, `${who.login}: folder_id ${JSON.stringify(folderId)}`).to.include({ type: 'error', error_code: 'forbidden' });
        expect(reply.message).to.match(/^Access denied to this folder: data\.folder_id must be a folder id/);
      }
      const missing = await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: 999_999 } });
      expect(missing.error_code, `${who.login}: an id that is no folder`).to.equal('forbidden');
    }
    const client = await open(admin);
    expect((await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } })).action, 'an admin any real shared folder').to.equal('subscribed');
  });

  it('refuses kb actions without kb_id with forbidden when the KB is closed to the user (admins), else invalid_request', async () => {
    await setTeampassSetting(db, 'enable_kb', '1');
    await srv.stop();
    srv = await suite.start();
    const admin = await open(await seedUser(db, { admin: true }));
    for (const action of ['start_kb_view', 'renew_kb_lock']) {
      expect((await admin.request({ action, data: {} })).error_code, `admin ${action}`).to.equal('forbidden');
      expect((await admin.request({ action })).error_code, `admin ${action} without data`).to.equal('forbidden');
      const reply = await (await open()).request({ action, data: {} });
      expect(reply, `user ${action}`).to.include({ error_code: 'invalid_request', message: 'data.kb_id is required.' });
    }
  });

  it('subscribe / unsubscribe the KB channel (enable_kb = 1), with locked_kbs', async () => {
    await setTeampassSetting(db, 'enable_kb', '1');
    await srv.stop();
    srv = await suite.start();
    const other = await seedUser(db, { login: 'bob' });
    const kb = await addKb(db);
    await lockKb(db, { kbId: kb, userId: other.id });
    await lockKb(db, { kbId: kb, userId: user.id });
    const client = await open();
    expect(await client.request({ action: 'subscribe', channel: 'kb', request_id: 'k' })).to.deep.equal({
      type: 'response',
      status: 'success',
      action: 'subscribed',
      channel: 'kb',
      locked_kbs: [{ kb_id: kb, user_login: 'bob', user_display_name: 'bob' }],
      viewing_kbs: [],
      request_id: 'k',
    });
    expect((await client.request({ action: 'get_status' })).subscriptions).to.deep.equal(['kb:0']);
    expect(await client.request({ action: 'unsubscribe', channel: 'kb', request_id: 'ku' })).to.deep.equal({
      type: 'response',
      status: 'success',
      action: 'unsubscribed',
      channel: 'kb',
      request_id: 'ku',
    });
  });

  it('refuses the KB channel without enable_kb, and to admins', async () => {
    const client = await open();
    const refused = await client.request({ action: 'subscribe', channel: 'kb' });
    expect(refused).to.include({ type: 'error', error_code: 'forbidden' });
    expect(refused.message).to.match(/enable_kb/);
    await setTeampassSetting(db, 'enable_kb', '1');
    await srv.stop();
    srv = await suite.start();
    const admin = await open(await seedUser(db, { admin: true }));
    expect((await admin.request({ action: 'subscribe', channel: 'kb' })).error_code).to.equal('forbidden');
    expect((await (await open()).request({ action: 'subscribe', channel: 'kb' })).action).to.equal('subscribed');
  });

  it('ping → pong with the server time; pong gets no reply', async () => {
    const client = await open();
    const pong = await client.request({ action: 'ping', request_id: 'req_p' });
    expect(Object.keys(pong).sort()).to.deep.equal(['request_id', 'timestamp', 'type']);
    expect(pong.type).to.equal('pong');
    expect(pong.timestamp).to.be.within(now() - 5, now() + 5);
    client.send({ action: 'pong', request_id: 'req_pong' });
    expect(await client.none((f) => f.request_id === 'req_pong', 500)).to.equal(true);
  });

  it('echoes a missing request_id as null, as the PHP daemon does', async () => {
    const client = await open();
    client.send({ action: 'ping' });
    expect((await client.next((f) => f.type === 'pong')).request_id).to.equal(null);
  });

  it('get_status describes the connection', async () => {
    const client = await open();
    await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } });
    const status = await client.request({ action: 'get_status', request_id: 'st' });
    expect(Object.keys(status).sort()).to.deep.equal(
      ['auth_method', 'connected', 'connected_at', 'request_id', 'server_time', 'subscriptions', 'type', 'user_display_name', 'user_id', 'user_login'].sort(),
    );
    expect(status).to.deep.include({
      type: 'status',
      connected: true,
      user_id: user.id,
      user_login: 'alice',
      user_display_name: 'Alice Martin',
      auth_method: 'ws_token',
      subscriptions: [`folder:${folder}`],
      request_id: 'st',
    });
    expect(status.connected_at).to.be.within(now() - 10, now());
  });

  it('get_stats for admins only', async () => {
    await setTeampassSetting(db, 'enable_kb', '1');
    await srv.stop();
    srv = await suite.start();
    const alice = await open();
    await alice.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } });
    await alice.request({ action: 'subscribe', channel: 'kb' });
    expect(await alice.request({ action: 'get_stats', request_id: 'gs' })).to.deep.equal({ type: 'error', error_code: 'forbidden', message: 'Admin access required.', request_id: 'gs' });
    const admin = await open(await seedUser(db, { admin: true }));
    const stats = await admin.request({ action: 'get_stats', request_id: 'gs2' });
    expect(stats).to.deep.include({ type: 'stats', request_id: 'gs2' });
    expect(stats.stats).to.deep.equal({ total_connections: 2, unique_users: 2, folder_subscriptions: 1, kb_subscriptions: 1 });
    expect(stats.server_time).to.be.within(now() - 5, now() + 5);
  });

  it('renew_item_lock refreshes only the requester own lock', async () => {
    const item = await addItem(db, { folderId: folder });
    const bob = await seedUser(db, { login: 'bob' });
    await lockItem(db, { itemId: item, userId: user.id, ageSec: 200 });
    const other = await addItem(db, { folderId: folder });
    await lockItem(db, { itemId: other, userId: bob.id, ageSec: 200 });
    const client = await open();
    expect(await client.request({ action: 'renew_item_lock', data: { item_id: item }, request_id: 'r1' })).to.deep.equal({
      type: 'response',
      status: 'success',
      action: 'lock_renewed',
      item_id: item,
      request_id: 'r1',
    });
    const row = (await db.knex(db.t.itemsEdition).where({ item_id: item }).first()) as { timestamp: string };
    expect(Number(row.timestamp)).to.be.within(now() - 5, now() + 1);
    expect(await client.request({ action: 'renew_item_lock', data: { item_id: other }, request_id: 'r2' })).to.deep.equal({
      type: 'error',
      error_code: 'no_lock',
      message: 'No active lock found for this item.',
      request_id: 'r2',
    });
    const untouched = (await db.knex(db.t.itemsEdition).where({ item_id: other }).first()) as { timestamp: string };
    expect(Number(untouched.timestamp)).to.be.below(now() - 100);
  });

  it('renew_kb_lock needs the KB channel and the requester own lock', async () => {
    const kb = await addKb(db);
    const client = await open();
    expect((await client.request({ action: 'renew_kb_lock', data: { kb_id: kb } })).error_code, 'no enable_kb').to.equal('forbidden');
    await setTeampassSetting(db, 'enable_kb', '1');
    await srv.stop();
    srv = await suite.start();
    const again = await open();
    expect((await again.request({ action: 'renew_kb_lock', data: { kb_id: kb } })).error_code).to.equal('no_lock');
    await lockKb(db, { kbId: kb, userId: user.id, ageSec: 100 });
    expect(await again.request({ action: 'renew_kb_lock', data: { kb_id: kb }, request_id: 'kr' })).to.deep.equal({
      type: 'response',
      status: 'success',
      action: 'kb_lock_renewed',
      kb_id: kb,
      request_id: 'kr',
    });
  });

  it('answers authenticate on an authenticated connection with unknown_action, as the PHP daemon', async () => {
    const client = await open();
    expect(await client.request({ action: 'authenticate', token: 'x', request_id: 'a' })).to.deep.equal({
      type: 'error',
      error_code: 'unknown_action',
      message: "Action 'authenticate' is not recognized.",
      request_id: 'a',
    });
    expect((await client.request({ action: 'authenticate', request_id: 'b' })).error_code, 'whatever its fields').to.equal('unknown_action');
    expect((await client.request({ action: 'ping' })).type).to.equal('pong');
  });

  it('answers server_error when the database fails under a request, and keeps the connection', async () => {
    const client = await open();
    await db.knex.schema.renameTable(db.t.items, `${db.t.items}_away`);
    try {
      const reply = await client.request({ action: 'start_item_view', data: { item_id: 1 }, request_id: 'se' });
      expect(reply).to.deep.equal({ type: 'error', error_code: 'server_error', message: 'The request failed on the server; try again shortly.', request_id: 'se' });
      expect((await client.request({ action: 'ping' })).type).to.equal('pong');
    } finally {
      await db.knex.schema.renameTable(`${db.t.items}_away`, db.t.items);
    }
  });
});
