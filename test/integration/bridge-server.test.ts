import { expect } from 'chai';
import type { Database } from '../../src/db/index.js';
import { forEachBackend } from '../helpers/backends.js';
import {
  addFolder,
  addRole,
  assignRole,
  issueToken,
  removeRole,
  seedUser,
  setTeampassSetting,
  type SeededUser,
} from '../helpers/teampass-fixture.js';
import { PRECISE_CLOSE_CODES, type ConnectOptions, type Frame, type TestWsClient } from '../helpers/ws-client.js';
import { waitFor } from '../helpers/wait.js';
import { insertEvent, type EventInput } from './bridge-recorder.js';
import { connected, useServerSuite, type TestServer } from './server-harness.js';

/** The daemon core and the bridge together, over real websockets: what a TeamPass page sees. */
forEachBackend('event bridge through the server', (backend) => {
  const suite = useServerSuite(backend);
  let db: Database;
  let srv: TestServer;
  let folderA: number;
  let folderB: number;
  let secret: number;
  let alice: SeededUser;
  let bob: SeededUser;
  let carol: SeededUser;
  let bobRole: number;

  beforeEach(async function () {
    this.timeout(60_000);
    db = suite.db;
    await setTeampassSetting(db, 'enable_kb', '1');
    folderA = await addFolder(db, { title: 'Servers' });
    folderB = await addFolder(db, { title: 'Network' });
    secret = await addFolder(db, { title: 'Board' });
    alice = await seedUser(db, { login: 'alice' });
    bob = await seedUser(db, { login: 'bob' });
    carol = await seedUser(db, { login: 'carol' });
    await assignRole(db, alice.id, await addRole(db, { [folderA]: 'W', [folderB]: 'R' }));
    bobRole = await addRole(db, { [folderA]: 'W' });
    await assignRole(db, bob.id, bobRole);
    await assignRole(db, carol.id, await addRole(db, { [folderB]: 'W', [secret]: 'W' }));
    srv = await suite.start({ bridge: true, config: { poll_interval_ms: 30 } });
  });

  const open = async (user: SeededUser, query = '', options: ConnectOptions = {}) => {
    const client = await srv.client(`?token=${await issueToken(db, user.id)}${query}`, options);
    const frame = await connected(client);
    expect(frame.type, JSON.stringify(frame)).to.equal('connected');
    return { client, frame };
  };
  const subscribe = async (client: TestWsClient, folderId: number | 'kb', since?: number) => {
    const data = folderId === 'kb' ? {} : { folder_id: folderId };
    const reply = await client.request({ action: 'subscribe', channel: folderId === 'kb' ? 'kb' : 'folder', data: since === undefined ? data : { ...data, since_event_id: since } });
    expect(reply.status, JSON.stringify(reply)).to.equal('success');
    return reply;
  };
  const emit = (e: EventInput) => insertEvent(db, e);
  const isEvent = (id: number) => (f: Frame) => f.type === 'event' && f.event_id === id;
  const eventIds = (c: TestWsClient) => c.received.filter((f) => f.type === 'event').map((f) => f.event_id as number);

  it('routes each target type to the right sockets, minus the actor, with the frame TeamPass expects', async () => {
    const a = await open(alice);
    const b = await open(bob);
    const c = await open(carol);
    await subscribe(a.client, folderA);
    await subscribe(b.client, folderA);
    await subscribe(a.client, folderB);
    await subscribe(c.client, folderB);
    await subscribe(c.client, 'kb');
    const refused = await c.client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folderA } });
    expect(refused).to.include({ type: 'error', error_code: 'forbidden' });

    const created = await emit({ event_type: 'item_created', target_type: 'folder', target_id: folderA, payload: { item_id: 1, folder_id: folderA, label: 'db01', created_by: 'bob', exclude_user_id: bob.id } });
    const network = await emit({ event_type: 'item_updated', target_type: 'folder', target_id: folderB, payload: { item_id: 2, folder_id: folderB } });
    const board = await emit({ event_type: 'item_updated', target_type: 'folder', target_id: secret, payload: { item_id: 3, folder_id: secret } });
    const forBob = await emit({ event_type: 'task_completed', target_type: 'user', target_id: bob.id, payload: { task_id: 9, status: 'done' } });
    const kb = await emit({ event_type: 'kb_created', target_type: 'kb', payload: { kb_id: 4, label: 'VPN' } });
    const everyone = await emit({ event_type: 'system_maintenance', target_type: 'broadcast', payload: { message: 'Upgrade at 22:00' } });

    for (const x of [a, b, c]) await x.client.next(isEvent(everyone));
    expect(eventIds(a.client), 'alice: both folders she subscribed').to.deep.equal([created, network, everyone]);
    expect(eventIds(b.client), 'bob: his task, not his own item_created').to.deep.equal([forBob, everyone]);
    expect(eventIds(c.client), 'carol: Network and the KB; Board unsubscribed, Servers refused').to.deep.equal([network, kb, everyone]);
    expect(board).to.be.greaterThan(0);

    const frame = a.client.received.find((f) => f.event_id === created)!;
    expect(Object.keys(frame)).to.deep.equal(['type', 'event', 'data', 'timestamp', 'event_id', 'settled_event_id']);
    expect(frame).to.deep.include({ type: 'event', event: 'item_created', event_id: created });
    expect(frame.data).to.deep.equal({ item_id: 1, folder_id: folderA, label: 'db01', created_by: 'bob', exclude_user_id: bob.id });
    expect(Math.abs((frame.timestamp as number) - Date.now() / 1000)).to.be.lessThan(120);
  });

  it('skips the payload\'s exclude_user_id for kb and broadcast events too, as TeamPass\'s emitKbEvent expects', async () => {
    const a = await open(alice);
    const c = await open(carol);
    await subscribe(a.client, 'kb');
    await subscribe(c.client, 'kb');
    const started = await emit({ event_type: 'kb_edition_started', target_type: 'kb', payload: { kb_id: 4, user_id: carol.id, user_login: 'carol', user_display_name: 'Carol', exclude_user_id: carol.id } });
    const fields = await emit({ event_type: 'fields_updated', target_type: 'broadcast', payload: { action: 'created', label: 'Licence', changed_by: 'alice', exclude_user_id: alice.id } });
    const everyone = await emit({ event_type: 'system_maintenance', target_type: 'broadcast', payload: { message: 'Upgrade at 22:00' } });
    for (const x of [a, c]) await x.client.next(isEvent(everyone));
    expect(eventIds(a.client), 'alice: carol\'s lock, not her own broadcast').to.deep.equal([started, everyone]);
    expect(eventIds(c.client), 'carol: alice\'s broadcast, not her own lock').to.deep.equal([fields, everyone]);
  });

  it('revokes a subscription on folder_permission_changed: the event, then unsubscribed access_revoked, then nothing of that folder', async () => {
    const a = await open(alice);
    const b = await open(bob);
    await subscribe(a.client, folderA);
    await subscribe(b.client, folderA);
    await removeRole(db, bob.id, bobRole);
    const changed = await emit({ event_type: 'folder_permission_changed', target_type: 'user', target_id: bob.id, payload: { role_id: bobRole, folders: [folderA], access: 'none' } });
    const after = await emit({ event_type: 'item_updated', target_type: 'folder', target_id: folderA, payload: { item_id: 1, folder_id: folderA } });

    const ev = await b.client.next((f) => f.type === 'event');
    expect(ev).to.include({ event: 'folder_permission_changed', event_id: changed });
    const revoked = await b.client.next((f) => f.type === 'response' && f.action === 'unsubscribed');
    expect(revoked).to.include({ status: 'success', channel: 'folder', folder_id: folderA, reason: 'access_revoked' });
    await a.client.next(isEvent(after));
    expect(await b.client.none((f) => f.type === 'event', 500)).to.equal(true);
    const status = await b.client.request({ action: 'get_status' });
    expect(status.subscriptions).to.deep.equal([]);
  });

  it('delivers session_expired, then closes every connection of the user: 4401 when asked for, else 1000', async () => {
    const c1 = await open(carol, '', PRECISE_CLOSE_CODES);
    const c2 = await open(carol);
    const a = await open(alice);
    const expired = await emit({ event_type: 'session_expired', target_type: 'user', target_id: carol.id, payload: { reason: 'account_disabled' } });
    for (const [c, code] of [[c1, 4401], [c2, 1000]] as const) {
      const ev = await c.client.next((f) => f.type === 'event');
      expect(ev).to.deep.include({ event: 'session_expired', event_id: expired, data: { reason: 'account_disabled' } });
      expect((await c.client.waitClose()).code).to.equal(code);
    }
    expect(a.client.isClosed).to.equal(false);
  });

  it('recovers after a reconnect with ?since= and since_event_id: no gap, no duplicate, then live', async () => {
    const first = await open(alice);
    expect(first.frame.last_event_id).to.equal(srv.bridge!.lastEventId());
    await subscribe(first.client, folderA);
    const seen = await emit({ event_type: 'task_progress', target_type: 'user', target_id: alice.id, payload: { progress: 1 } });
    await first.client.next(isEvent(seen));
    await first.client.close();

    const missedUser = await emit({ event_type: 'task_progress', target_type: 'user', target_id: alice.id, payload: { progress: 2 } });
    await emit({ event_type: 'task_progress', target_type: 'user', target_id: bob.id, payload: { progress: 2 } });
    const missedFolder = await emit({ event_type: 'item_updated', target_type: 'folder', target_id: folderA, payload: { item_id: 1, folder_id: folderA } });
    const missedAll = await emit({ event_type: 'fields_updated', target_type: 'broadcast', payload: { action: 'added' } });
    await waitFor(() => srv.bridge!.lastEventId() === missedAll, 'the poller passes the missed events');

    const again = await open(alice, `&since=${seen}`);
    expect(again.frame.recovered).to.equal(true);
    // The socket is not subscribed to folders yet: ?since= replays its user events and broadcasts.
    await again.client.next(isEvent(missedAll));
    expect(eventIds(again.client)).to.deep.equal([missedUser, missedAll]);
    const reply = await subscribe(again.client, folderA, seen);
    expect(reply.recovered).to.equal(true);
    await again.client.next(isEvent(missedFolder));
    const live = await emit({ event_type: 'item_updated', target_type: 'folder', target_id: folderA, payload: { item_id: 2, folder_id: folderA } });
    await again.client.next(isEvent(live));
    const ids = eventIds(again.client);
    expect(new Set(ids).size, `no duplicate in ${ids}`).to.equal(ids.length);
    expect([...ids].sort((x, y) => x - y)).to.deep.equal([missedUser, missedFolder, missedAll, live]);
  });

  it('recovers the folders a client subscribes to before it is authenticated from the ?since= point', async () => {
    const first = await open(alice);
    await subscribe(first.client, folderA);
    await subscribe(first.client, folderB);
    const seen = await emit({ event_type: 'item_updated', target_type: 'folder', target_id: folderA, payload: { item_id: 1, folder_id: folderA } });
    await first.client.next(isEvent(seen));
    await first.client.close();

    const missed = [
      await emit({ event_type: 'item_updated', target_type: 'folder', target_id: folderB, payload: { item_id: 2, folder_id: folderB } }),
      await emit({ event_type: 'task_progress', target_type: 'user', target_id: alice.id, payload: { progress: 2 } }),
      await emit({ event_type: 'item_created', target_type: 'folder', target_id: folderA, payload: { item_id: 3, folder_id: folderA } }),
      await emit({ event_type: 'fields_updated', target_type: 'broadcast', payload: { action: 'added' } }),
    ];
    await emit({ event_type: 'item_updated', target_type: 'folder', target_id: secret, payload: { item_id: 4, folder_id: secret } });
    await waitFor(() => srv.bridge!.lastEventId() >= missed[3]!, 'the poller passes the missed events');

    // As TeamPass's client does: subscribe as soon as the socket opens, before the daemon has
    // answered `connected`; the first-message credential makes that order certain here.
    const client = await srv.client(`?since=${seen}`);
    client.send({ action: 'subscribe', channel: 'folder', data: { folder_id: folderA }, request_id: 'req_a' });
    client.send({ action: 'subscribe', channel: 'folder', data: { folder_id: folderB }, request_id: 'req_b' });
    client.send({ action: 'authenticate', token: await issueToken(db, alice.id) });
    const hello = await client.next((f) => f.type === 'connected');
    expect(hello.recovered).to.equal(true);
    const replyB = await client.next((f) => f.request_id === 'req_b');
    expect(replyB).to.include({ action: 'subscribed', folder_id: folderB, recovered: true });
    const live = await emit({ event_type: 'item_deleted', target_type: 'folder', target_id: folderB, payload: { item_id: 2, folder_id: folderB } });
    await client.next(isEvent(live));
    const ids = eventIds(client);
    expect(new Set(ids).size, `no duplicate in ${ids}`).to.equal(ids.length);
    expect([...ids].sort((x, y) => x - y)).to.deep.equal([...missed, live]);
    // Each channel's events arrive in id order.
    const folderBIds = ids.filter((id) => id === missed[0] || id === live);
    expect(folderBIds).to.deep.equal([missed[0], live]);
  });

  it('says recovered: false for an id older than the retained history', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 3; i += 1) ids.push(await emit({ event_type: 'fields_updated', target_type: 'broadcast', payload: { i } }));
    await waitFor(() => srv.bridge!.lastEventId() === ids[2], 'dispatched');
    // Deleted as cleanup would, once the daemon has marked the rows processed: a DELETE while its
    // UPDATE of them runs can deadlock in InnoDB (the daemon retries its own side).
    await waitFor(async () => (await db.knex(db.t.events).whereIn('id', ids).andWhere('processed', 1)).length === ids.length, 'marked processed');
    await db.knex(db.t.events).where('id', ids[0]).delete();
    const c = await open(alice, `&since=${ids[0]! - 1}`);
    expect(c.frame.recovered).to.equal(false);
    await c.client.next(isEvent(ids[2]!));
    expect(eventIds(c.client)).to.deep.equal([ids[1], ids[2]]);
  });
  it("labels delivered-event metrics only with TeamPass's event types, everything else as other", async () => {
    const { client } = await open(alice);
    const ids: number[] = [];
    for (let i = 0; i < 40; i++) ids.push(await insertEvent(db, { event_type: `custom_${i}_${Math.random().toString(36).slice(2, 8)}`, target_type: 'broadcast', payload: { n: i } }));
    ids.push(await insertEvent(db, { event_type: 'system_maintenance', target_type: 'broadcast', payload: { message: 'x' } }));
    await client.next(isEvent(ids.at(-1)!));
    const text = await srv.metrics.registry.metrics();
    const lines = text.split('\n').filter((l) => l.startsWith('teampass_ws_events_delivered_total{'));
    expect(lines.sort()).to.deep.equal(['teampass_ws_events_delivered_total{event_type="other"} 40', 'teampass_ws_events_delivered_total{event_type="system_maintenance"} 1']);
  });
});
