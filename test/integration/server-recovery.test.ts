import { expect } from 'chai';
import type { Database } from '../../src/db/index.js';
import { forEachBackend } from '../helpers/backends.js';
import { addFolder, grantFolder, issueToken, seedUser, type SeededUser } from '../helpers/teampass-fixture.js';
import type { Connection } from '../../src/server/connection.js';
import { PRECISE_CLOSE_CODES, type TestWsClient } from '../helpers/ws-client.js';
import { connected, useServerSuite, waitFor, type TestServer } from './server-harness.js';

forEachBackend('serve: recovery of a connection opened with ?since=', (backend) => {
  const suite = useServerSuite(backend);
  let db: Database;
  let srv: TestServer;
  let user: SeededUser;
  let folder: number;

  beforeEach(async () => {
    db = suite.db;
    user = await seedUser(db);
    folder = await addFolder(db);
    await grantFolder(db, user.id, folder);
  });

  const insert = async (rows: Array<{ type: string; target: string; targetId: number | null; payload?: unknown }>) => {
    const ids: number[] = [];
    for (const r of rows) {
      const payload = typeof r.payload === 'string' ? r.payload : JSON.stringify(r.payload ?? {});
      const [id] = await db.knex(db.t.events).insert({ event_type: r.type, target_type: r.target, target_id: r.targetId, payload });
      ids.push(Number(id));
    }
    await waitFor(() => srv.bridge!.lastEventId() >= ids[ids.length - 1]);
    return ids;
  };
  const folderEvents = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'item_updated', target: 'folder', targetId: folder, payload: { item_id: i, folder_id: folder } }));
  const eventIds = (client: TestWsClient) => client.received.filter((f) => f.type === 'event').map((f) => f.event_id as number);

  describe('the first subscription to each channel recovers from since, whenever it is sent', () => {
    let since: number;
    let missed: number[];
    beforeEach(async () => {
      srv = await suite.start({ bridge: true });
      since = srv.bridge!.lastEventId();
      missed = await insert(folderEvents(3));
    });

    it('when the subscribe arrives after `connected`', async () => {
      const client = await srv.client(`?token=${await issueToken(db, user.id)}&since=${since}`);
      expect(await connected(client)).to.deep.include({ type: 'connected', recovered: true });
      // The client waits for `connected` before subscribing, as a page that calls subscribeToFolder in onOpen does.
      const reply = await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } });
      expect(reply).to.deep.include({ action: 'subscribed', folder_id: folder, recovered: true });
      expect(eventIds(client)).to.deep.equal(missed);

      // Only the first subscription to the channel recovers.
      await client.request({ action: 'unsubscribe', channel: 'folder', data: { folder_id: folder } });
      const again = await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } });
      expect(again.recovered).to.equal(undefined);
      expect(eventIds(client)).to.deep.equal(missed);
    });

    it('when the subscribe is sent before `connected`', async () => {
      // A first-message credential makes the order certain: the subscribe is queued before authentication starts.
      const client = await srv.client(`?since=${since}`);
      client.send({ action: 'subscribe', channel: 'folder', data: { folder_id: folder }, request_id: 'req_early' });
      client.send({ action: 'authenticate', token: await issueToken(db, user.id) });
      expect(await connected(client)).to.deep.include({ type: 'connected', recovered: true });
      const reply = await client.next((f) => f.request_id === 'req_early');
      expect(reply).to.deep.include({ action: 'subscribed', recovered: true });
      expect(eventIds(client)).to.deep.equal(missed);
    });

    it('since_event_id in the subscribe overrides the connection’s since', async () => {
      const client = await srv.client(`?token=${await issueToken(db, user.id)}&since=${since}`);
      await connected(client);
      const reply = await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder, since_event_id: missed[1] } });
      expect(reply).to.deep.include({ recovered: true });
      expect(eventIds(client)).to.deep.equal([missed[2]]);
    });
  });

  describe('a missed history larger than max_buffered_bytes', () => {
    it('reaches a client that reads slowly, paced by what it reads, instead of closing it as a slow consumer', async () => {
      srv = await suite.start({ bridge: true, config: { max_buffered_bytes: 256 * 1024 } });
      const since = srv.bridge!.lastEventId();
      // 160 events of 40 KiB: 6.4 MiB, many times the ceiling and more than the kernel buffers hold.
      const pad = 'p'.repeat(40 * 1024);
      const rows = Array.from({ length: 160 }, (_, i) => ({ event_type: 'item_updated', target_type: 'folder', target_id: folder, payload: JSON.stringify({ item_id: i, folder_id: folder, pad }) }));
      await db.knex.batchInsert(db.t.events, rows, 20);
      const [{ last }] = (await db.knex(db.t.events).max('id as last')) as Array<{ last: number }>;
      await waitFor(() => srv.bridge!.lastEventId() >= Number(last), 'the bridge polls the events');

      const client = await srv.client(`?token=${await issueToken(db, user.id)}`, PRECISE_CLOSE_CODES);
      await connected(client);
      const [target] = [...srv.server.directory.byUser(user.id)] as Connection[];
      client.send({ action: 'subscribe', channel: 'folder', data: { folder_id: folder, since_event_id: since }, request_id: 'req_big' });
      client.pauseReading();
      // The replay fills the kernel's buffers, then the daemon's own: the client is now behind.
      await waitFor(() => target!.socket.bufferedAmount > 0 || !target!.isOpen, 'the daemon to be behind the paused client');
      client.resumeReading();
      const reply = await Promise.race([client.next((f) => f.request_id === 'req_big' || f.type === 'error', 20_000), client.waitClose(20_000).then((c) => ({ closed: c.code }))]);
      expect(reply).to.deep.include({ action: 'subscribed', recovered: true });
      const ids = eventIds(client);
      expect(ids).to.have.length(160);
      expect(ids).to.deep.equal([...ids].sort((a, b) => a - b));
      expect(client.isClosed).to.equal(false);
      const slowCloses = (await srv.metrics.slowConsumerCloses.get()).values.reduce((sum, v) => sum + v.value, 0);
      expect(slowCloses).to.equal(0);
    });
  });

  describe('events over max_event_bytes', () => {
    it('are skipped at the poller, logged and counted, and not replayed to a recovering client', async () => {
      srv = await suite.start({ bridge: true, config: { max_event_bytes: 2048 } });
      const client = await srv.client(`?token=${await issueToken(db, user.id)}`);
      await connected(client);
      await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } });
      const since = srv.bridge!.lastEventId();
      const [small, big, after] = await insert([
        { type: 'item_updated', target: 'folder', targetId: folder, payload: { label: 'small' } },
        { type: 'item_updated', target: 'folder', targetId: folder, payload: { label: 'x'.repeat(4096) } },
        { type: 'system_maintenance', target: 'broadcast', targetId: null, payload: { message: 'after' } },
      ]);
      await waitFor(() => eventIds(client).includes(after));
      expect(eventIds(client)).to.deep.equal([small, after]);
      const metrics = await srv.metrics.registry.metrics();
      expect(metrics).to.match(/teampass_ws_bad_events_total\{reason="too_large"\} 1/);
      await waitFor(() => srv.logs().some((l) => l.event_id === big && /max_event_bytes/.test(String(l.message))));

      const again = await srv.client(`?token=${await issueToken(db, user.id)}&since=${since}`);
      await connected(again);
      await again.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } });
      // The broadcast comes with the connection's replay, the folder's event with the subscription's.
      expect(eventIds(again)).to.have.members([small, after]).and.to.have.length(2);
    });
  });
});
