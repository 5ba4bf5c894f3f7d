import { expect } from 'chai';
import type { Database } from '../../src/db/index.js';
import type { DeliveryTarget } from '../../src/server/index.js';
import { forEachBackend } from '../helpers/backends.js';
import { addFolder, grantFolder, issueToken, seedUser, type SeededUser } from '../helpers/teampass-fixture.js';
import { PRECISE_CLOSE_CODES, type ConnectOptions, type TestWsClient } from '../helpers/ws-client.js';
import { connected, useServerSuite, waitFor, waitForLog, type TestServer } from './server-harness.js';

const frame = (id: number, pad = '') => JSON.stringify({ type: 'event', event: 'task_progress', data: { n: id, pad }, timestamp: 0, event_id: id });

forEachBackend('serve: event delivery to a connection', (backend) => {
  const suite = useServerSuite(backend);
  let db: Database;
  let srv: TestServer;
  let user: SeededUser;

  beforeEach(async () => {
    db = suite.db;
    user = await seedUser(db);
  });

  const open = async (query = '', options: ConnectOptions = {}): Promise<{ client: TestWsClient; first: Record<string, unknown> }> => {
    const client = await srv.client(`?token=${await issueToken(db, user.id)}${query}`, options);
    return { client, first: await connected(client) };
  };
  const targetOf = (userId: number): DeliveryTarget => [...srv.server.directory.byUser(userId)][0];
  const eventIds = async (client: TestWsClient, count: number) => {
    const ids: number[] = [];
    for (let i = 0; i < count; i++) ids.push((await client.next((f) => f.type === 'event')).event_id as number);
    return ids;
  };

  describe('through the DeliveryTarget seam', () => {
    beforeEach(async () => {
      srv = await suite.start();
    });

    it('sends each id once, a late one too', async () => {
      const { client } = await open();
      const target = targetOf(user.id);
      // 2 commits late (after 3), 4 after 5; each settled watermark says what is behind it.
      for (const [id, settled] of [[3, 1], [3, 1], [2, 3], [5, 3], [4, 5], [6, 6]]) target.deliver(id!, frame(id!), settled);
      expect(await eventIds(client, 5)).to.deep.equal([3, 2, 5, 4, 6]);
      expect(await client.none((f) => f.type === 'event', 300)).to.equal(true);
    });

    it('holds live frames during a replay and sends the ones it did not replay after it, with no duplicate', async () => {
      const { client } = await open();
      const target = targetOf(user.id);
      target.deliver(1, frame(1), 1);
      target.beginReplay();
      target.deliver(7, frame(7), 7);
      target.deliver(6, frame(6), 8);
      target.deliver(8, frame(8), 8);
      target.deliverReplayed(5, frame(5));
      target.deliverReplayed(7, frame(7));
      target.endReplay();
      target.deliver(9, frame(9), 9);
      expect(await eventIds(client, 6)).to.deep.equal([1, 5, 7, 6, 8, 9]);
      expect(await client.none((f) => f.type === 'event', 300)).to.equal(true);
    });

    it('exposes who the connection is and what it may see', async () => {
      const folder = await addFolder(db);
      await grantFolder(db, user.id, folder);
      const { client } = await open();
      const target = targetOf(user.id);
      expect(target).to.include({ userId: user.id, isAdmin: false, kbSubscribed: false });
      expect(target.id).to.be.a('string').and.not.equal('');
      expect(target.mayAccessFolder(folder)).to.equal(true);
      expect(target.isSubscribedToFolder(folder)).to.equal(false);
      await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } });
      expect(target.isSubscribedToFolder(folder)).to.equal(true);
      expect([...srv.server.directory.folderSubscribers(folder)]).to.deep.equal([target]);
      target.close(4000, 'bye');
      expect((await client.waitClose()).code).to.equal(4000);
    });

    it('closes a client that stops reading with 4503 once it is max_buffered_bytes behind, and counts it', async () => {
      await srv.stop();
      srv = await suite.start({ config: { max_buffered_bytes: 256 * 1024 } });
      const slow = (await open('', PRECISE_CLOSE_CODES)).client;
      const healthy = (await open()).client;
      const [slowTarget, healthyTarget] = [...srv.server.directory.byUser(user.id)];
      slow.pauseReading();
      const pad = 'z'.repeat(16 * 1024);
      const closes = async () => (await srv.metrics.slowConsumerCloses.get()).values.reduce((s, v) => s + v.value, 0);
      let id = 0;
      while ((await closes()) === 0 && id < 4000) {
        id += 1;
        slowTarget.deliver(id, frame(id, pad));
        healthyTarget.deliver(id, frame(id, pad));
        await new Promise((r) => setImmediate(r));
      }
      expect(await closes()).to.equal(1);
      expect(id).to.be.below(4000);
      slow.resumeReading();
      expect((await slow.waitClose()).code).to.equal(4503);
      expect(healthy.isClosed, 'a client that reads keeps up').to.equal(false);
      await waitForLog(srv, (l) => l.message === 'Slow consumer closed (4503)');
    });
  });

  describe('recovery with the event bridge', () => {
    beforeEach(async () => {
      srv = await suite.start({ bridge: true });
    });

    const insert = async (rows: Array<{ type: string; target: string; targetId: number | null; payload?: object }>) => {
      const ids: number[] = [];
      for (const r of rows) {
        const [id] = await db.knex(db.t.events).insert({ event_type: r.type, target_type: r.target, target_id: r.targetId, payload: JSON.stringify(r.payload ?? {}) });
        ids.push(Number(id));
      }
      const last = ids[ids.length - 1]!;
      await waitFor(() => srv.bridge!.lastEventId() >= last, 'the bridge polls the events');
      return ids;
    };

    it('reports last_event_id and replays what the user may see after ?since=, then goes live', async () => {
      const folder = await addFolder(db);
      await grantFolder(db, user.id, folder);
      const other = await seedUser(db);
      const [mine, theirs, folderEvent, broadcast] = await insert([
        { type: 'task_progress', target: 'user', targetId: user.id },
        { type: 'task_progress', target: 'user', targetId: other.id },
        { type: 'item_created', target: 'folder', targetId: folder },
        { type: 'system_maintenance', target: 'broadcast', targetId: null },
      ]);
      const { client, first } = await open(`&since=${mine - 1}`);
      expect(first).to.deep.include({ type: 'connected', last_event_id: broadcast, recovered: true });
      expect(await eventIds(client, 2), 'no event of another user, none of an unsubscribed folder').to.deep.equal([mine, broadcast]);
      expect(theirs).to.be.above(mine);

      const reply = await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder, since_event_id: mine - 1 } });
      expect(reply).to.deep.include({ action: 'subscribed', folder_id: folder, recovered: true });
      expect(await eventIds(client, 1), 'the folder event, replayed before the reply').to.deep.equal([folderEvent]);
      const all = client.received.filter((f) => f.type === 'event').map((f) => f.event_id);
      expect(all, 'nothing sent twice').to.deep.equal([mine, broadcast, folderEvent]);
      const position = (p: (f: Record<string, unknown>) => boolean) => client.received.findIndex(p);
      expect(position((f) => f.event_id === folderEvent)).to.be.below(position((f) => f.action === 'subscribed'));

      const [live] = await insert([{ type: 'item_updated', target: 'folder', targetId: folder }]);
      expect((await client.next((f) => f.type === 'event')).event_id).to.equal(live);
    });

    it('says recovered: false when the history no longer reaches back to since', async () => {
      const ids = await insert([
        { type: 'task_progress', target: 'user', targetId: user.id },
        { type: 'task_progress', target: 'user', targetId: user.id },
      ]);
      // As cleanup would, once the daemon is done with the rows: deleting one while its UPDATE
      // marking them processed runs can deadlock in InnoDB (the daemon retries its own side).
      const processed = async () => (await db.knex(db.t.events).whereIn('id', ids).andWhere('processed', 1)).length === ids.length;
      await waitFor(processed, 'the daemon marks the events processed');
      await db.knex(db.t.events).where('id', ids[0]).delete();
      const { first } = await open(`&since=${ids[0] - 1}`);
      expect(first.recovered).to.equal(false);
    });

    it('answers a since that is not an event id with recovered: false and an error naming it', async () => {
      const { client, first } = await open('&since=yesterday');
      expect(first.recovered).to.equal(false);
      const error = await client.next((f) => f.type === 'error');
      expect(error.error_code).to.equal('invalid_request');
      expect(error.message).to.match(/^since must be an event id/);
    });
  });

  describe('without an event bridge', () => {
    it('reports last_event_id 0 and recovered: false', async () => {
      srv = await suite.start();
      const { client, first } = await open('&since=10');
      expect(first).to.deep.include({ last_event_id: 0, recovered: false });
      const kbless = await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: 1, since_event_id: 3 } });
      expect(kbless.error_code, 'access is still checked first').to.equal('forbidden');
    });
  });
});
