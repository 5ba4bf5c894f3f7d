import { expect } from 'chai';
import type { Database } from '../../src/db/index.js';
import { forEachBackend } from '../helpers/backends.js';
import {
  addFolder,
  addItem,
  addKb,
  addRole,
  assignRole,
  eventRows,
  issueToken,
  lockItem,
  lockKb,
  seedUser,
  setTeampassSetting,
  type SeededUser,
} from '../helpers/teampass-fixture.js';
import type { TestWsClient } from '../helpers/ws-client.js';
import { connected, useServerSuite, waitFor, type TestServer } from './server-harness.js';

const now = () => Math.floor(Date.now() / 1000);

forEachBackend('serve: presence and edition locks', (backend) => {
  const suite = useServerSuite(backend);
  let db: Database;
  let srv: TestServer;
  let folder: number;
  let item: number;
  let alice: SeededUser;
  let bob: SeededUser;

  beforeEach(async () => {
    db = suite.db;
    await setTeampassSetting(db, 'enable_kb', '1');
    folder = await addFolder(db);
    item = await addItem(db, { folderId: folder, label: 'Router' });
    alice = await seedUser(db, { login: 'alice', name: 'Alice', lastname: 'Martin' });
    bob = await seedUser(db, { login: 'bob' });
    const role = await addRole(db, { [folder]: 'W' });
    await assignRole(db, alice.id, role);
    await assignRole(db, bob.id, role);
    srv = await suite.start();
  });

  const open = async (who: SeededUser, subscribe = true): Promise<TestWsClient> => {
    const client = await srv.client(`?token=${await issueToken(db, who.id)}`);
    await connected(client);
    if (subscribe) await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } });
    return client;
  };
  const viewersChanged = (c: TestWsClient) => c.next((f) => f.type === 'event' && f.event === 'item_viewers_changed');
  const aliceViewer = () => ({ user_id: alice.id, user_login: 'alice', user_display_name: 'Alice Martin' });

  it('pushes item_viewers_changed to the folder subscribers, then replies item_view_started', async () => {
    const a = await open(alice);
    const b = await open(bob);
    const reply = await a.request({ action: 'start_item_view', data: { item_id: item }, request_id: 'v1' });
    expect(reply).to.deep.equal({
      type: 'response',
      status: 'success',
      action: 'item_view_started',
      item_id: item,
      folder_id: folder,
      viewers: [aliceViewer()],
      request_id: 'v1',
    });
    const pushed = await viewersChanged(b);
    expect(Object.keys(pushed).sort()).to.deep.equal(['data', 'event', 'timestamp', 'type']);
    expect(pushed.data).to.deep.include({ item_id: item, folder_id: folder, viewers: [aliceViewer()] });
    expect(pushed.data.server_timestamp).to.be.within(now() - 5, now() + 5);
    const aFrames = a.received.filter((f) => f.type !== 'ping').map((f) => f.event ?? f.action);
    expect(aFrames.slice(-2), 'the push reaches the viewer before its own reply').to.deep.equal(['item_viewers_changed', 'item_view_started']);
  });

  it('lists current viewers in a later subscribe reply, and clears them on stop and on disconnect', async () => {
    const a = await open(alice);
    await a.request({ action: 'start_item_view', data: { item_id: item } });
    const b = await open(bob, false);
    const sub = await b.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } });
    expect(sub.viewing_items).to.deep.equal([{ item_id: item, viewers: [aliceViewer()] }]);
    expect(await a.request({ action: 'stop_item_view', data: { item_id: item }, request_id: 's' })).to.deep.equal({
      type: 'response',
      status: 'success',
      action: 'item_view_stopped',
      item_id: item,
      folder_id: folder,
      request_id: 's',
    });
    expect((await viewersChanged(b)).data.viewers).to.deep.equal([]);
    await a.request({ action: 'start_item_view', data: { item_id: item } });
    expect((await viewersChanged(b)).data.viewers).to.deep.equal([aliceViewer()]);
    await a.close();
    expect((await viewersChanged(b)).data.viewers, 'the tab closed').to.deep.equal([]);
  });

  it('answers not_found for an unknown item and forbidden for an item in a folder the user cannot see', async () => {
    const secret = await addItem(db, { folderId: await addFolder(db) });
    const a = await open(alice);
    expect(await a.request({ action: 'start_item_view', data: { item_id: 999_999 }, request_id: 'n' })).to.deep.equal({
      type: 'error',
      error_code: 'not_found',
      message: 'Item not found.',
      request_id: 'n',
    });
    expect((await a.request({ action: 'start_item_view', data: { item_id: secret } })).error_code).to.equal('forbidden');
  });

  it('reports locked_items younger than 300 s, not the requester own', async () => {
    const stale = await addItem(db, { folderId: folder });
    const own = await addItem(db, { folderId: folder });
    await lockItem(db, { itemId: item, userId: bob.id, ageSec: 10 });
    await lockItem(db, { itemId: stale, userId: bob.id, ageSec: 400 });
    await lockItem(db, { itemId: own, userId: alice.id, ageSec: 10 });
    const a = await open(alice, false);
    const reply = await a.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } });
    expect(reply.locked_items).to.deep.equal([{ item_id: item, user_login: 'bob', user_display_name: 'bob' }]);
  });

  it('tracks KB viewers and pushes kb_viewers_changed to KB subscribers', async () => {
    const kb = await addKb(db);
    const a = await open(alice, false);
    const b = await open(bob, false);
    await a.request({ action: 'subscribe', channel: 'kb' });
    await b.request({ action: 'subscribe', channel: 'kb' });
    expect(await a.request({ action: 'start_kb_view', data: { kb_id: kb }, request_id: 'k' })).to.deep.equal({
      type: 'response',
      status: 'success',
      action: 'kb_view_started',
      kb_id: kb,
      viewers: [aliceViewer()],
      request_id: 'k',
    });
    const pushed = await b.next((f) => f.event === 'kb_viewers_changed');
    expect(pushed.data).to.deep.include({ kb_id: kb, viewers: [aliceViewer()] });
    expect((await b.request({ action: 'subscribe', channel: 'kb' })).viewing_kbs).to.deep.equal([{ kb_id: kb, viewers: [aliceViewer()] }]);
    expect(await a.request({ action: 'stop_kb_view', data: { kb_id: kb }, request_id: 'ks' })).to.deep.equal({
      type: 'response',
      status: 'success',
      action: 'kb_view_stopped',
      kb_id: kb,
      request_id: 'ks',
    });
    expect((await b.next((f) => f.event === 'kb_viewers_changed')).data.viewers).to.deep.equal([]);
    expect((await a.request({ action: 'start_kb_view', data: { kb_id: 424_242 } })).error_code).to.equal('not_found');
  });

  describe("a user's last connection closing", () => {
    it('deletes their edition locks and queues item_edition_stopped / kb_edition_stopped as TeamPass writes them', async () => {
      await setTeampassSetting(db, 'websocket_enabled', '1');
      const kb = await addKb(db);
      await lockItem(db, { itemId: item, userId: alice.id });
      await lockKb(db, { kbId: kb, userId: alice.id });
      await lockItem(db, { itemId: item, userId: bob.id });
      const first = await open(alice, false);
      const second = await open(alice, false);
      await first.close();
      await new Promise((r) => setTimeout(r, 300));
      expect(await db.knex(db.t.itemsEdition).where({ user_id: alice.id })).to.have.length(1);
      await second.close();
      await waitFor(async () => (await db.knex(db.t.itemsEdition).where({ user_id: alice.id })).length === 0);
      expect(await db.knex(db.t.kbEdition).where({ user_id: alice.id })).to.have.length(0);
      expect(await db.knex(db.t.itemsEdition).where({ user_id: bob.id }), "others' locks stay").to.have.length(1);
      await waitFor(async () => (await eventRows(db)).length === 2);
      const [itemEvent, kbEvent] = await eventRows(db);
      expect(itemEvent).to.deep.include({ event_type: 'item_edition_stopped', target_type: 'folder', target_id: folder });
      expect(itemEvent.payload).to.deep.include({ item_id: item, folder_id: folder, user_id: alice.id, user_login: 'alice', user_display_name: 'Alice Martin', reason: 'disconnected' });
      expect(itemEvent.payload.server_timestamp).to.be.within(now() - 10, now() + 1);
      expect(kbEvent).to.deep.include({ event_type: 'kb_edition_stopped', target_type: 'kb', target_id: null });
      expect(kbEvent.payload).to.deep.include({ kb_id: kb, user_id: alice.id, user_login: 'alice', reason: 'disconnected' });
    });

    it('queues no event while websocket_enabled is not 1, but still releases the locks', async () => {
      await lockItem(db, { itemId: item, userId: alice.id });
      const a = await open(alice, false);
      await a.close();
      await waitFor(async () => (await db.knex(db.t.itemsEdition).where({ user_id: alice.id })).length === 0);
      expect(await eventRows(db)).to.have.length(0);
    });

    it('counts connections across daemons: closing a tab on one keeps the locks held through another', async () => {
      await setTeampassSetting(db, 'websocket_enabled', '1');
      await lockItem(db, { itemId: item, userId: alice.id });
      const other = await suite.start({ instanceId: 'other-daemon' });
      try {
        const onOther = await other.client(`?token=${await issueToken(db, alice.id)}`);
        await connected(onOther);
        const here = await open(alice, false);
        await here.close();
        // The daemon that saw its last local connection close has looked at the table and kept the lock.
        await waitFor(() => srv.logs().some((l) => l.message === 'Edition locks kept: the user is still connected through another daemon'));
        expect(await db.knex(db.t.itemsEdition).where({ user_id: alice.id })).to.have.length(1);
        await onOther.close();
        await waitFor(async () => (await db.knex(db.t.itemsEdition).where({ user_id: alice.id })).length === 0);
        await waitFor(async () => (await eventRows(db)).length === 1);
      } finally {
        await other.stop();
      }
    });

    it('sorts users who leave at once: locks of those gone everywhere released, those of one still connected elsewhere kept', async () => {
      await setTeampassSetting(db, 'websocket_enabled', '1');
      const kb = await addKb(db);
      const carol = await seedUser(db, { login: 'carol' });
      const item2 = await addItem(db, { folderId: folder, label: 'Switch' });
      await lockItem(db, { itemId: item, userId: alice.id });
      await lockItem(db, { itemId: item2, userId: alice.id });
      await lockKb(db, { kbId: kb, userId: bob.id });
      await lockItem(db, { itemId: item2, userId: carol.id });
      const other = await suite.start({ instanceId: 'other-daemon' });
      try {
        const carolElsewhere = await other.client(`?token=${await issueToken(db, carol.id)}`);
        await connected(carolElsewhere);
        const here = await Promise.all([open(alice, false), open(bob, false), open(carol, false)]);
        await Promise.all(here.map((c) => c.close()));
        await waitFor(async () => (await db.knex(db.t.itemsEdition).where({ user_id: alice.id })).length === 0);
        await waitFor(async () => (await db.knex(db.t.kbEdition).where({ user_id: bob.id })).length === 0);
        await waitFor(() => srv.logs().some((l) => l.message === 'Edition locks kept: the user is still connected through another daemon' && l.user_id === carol.id));
        expect(await db.knex(db.t.itemsEdition).where({ user_id: carol.id }), "carol's lock stays").to.have.length(1);
        await waitFor(async () => (await eventRows(db)).length === 3);
        const events = (await eventRows(db)).map((e) => [e.event_type, e.payload.user_id, e.payload.item_id ?? e.payload.kb_id]);
        expect(events).to.have.deep.members([
          ['item_edition_stopped', alice.id, item],
          ['item_edition_stopped', alice.id, item2],
          ['kb_edition_stopped', bob.id, kb],
        ]);
        await carolElsewhere.close();
      } finally {
        await other.stop();
      }
    });

    it('keeps the locks when the daemon shuts down (the user reconnects to the next one)', async () => {
      await setTeampassSetting(db, 'websocket_enabled', '1');
      await lockItem(db, { itemId: item, userId: alice.id });
      const a = await open(alice, false);
      await srv.server.stop();
      expect((await a.waitClose()).code, 'TeamPass\'s page gets 1000').to.equal(1000);
      expect(await db.knex(db.t.itemsEdition).where({ user_id: alice.id })).to.have.length(1);
      expect(await eventRows(db)).to.have.length(0);
    });
  });
});
