import { expect } from 'chai';
import { Cleanup } from '../../src/bridge/index.js';
import type { Database } from '../../src/db/index.js';
import { nowPlusSeconds } from '../../src/db/index.js';
import { TeampassWsError } from '../../src/errors.js';
import { forEachBackend } from '../helpers/backends.js';
import { waitFor } from '../helpers/wait.js';
import { insertEvent, RecordingTarget } from './bridge-recorder.js';
import { useServerSuite } from './server-harness.js';

forEachBackend('event bridge: recovery', (backend) => {
  const suite = useServerSuite(backend, { schema: 'daemon' });
  let db: Database;
  let producer: Database;
  beforeEach(async () => {
    db = suite.db;
    producer = await suite.connection();
  });
  const start = (overrides = {}) => suite.startBridge(overrides);

  it('replays, in order, exactly the events the connection may see, then lets live events through', async () => {
    const h = await start();
    const since = h.bridge.lastEventId();
    const ev = (event_type: string, target_type: string, target_id: number | null, payload: object = {}) =>
      insertEvent(producer, { event_type, target_type, target_id, payload });
    const mine = await ev('task_completed', 'user', 1, { task_id: 1 });
    await ev('task_completed', 'user', 2, { task_id: 2 });
    const folder = await ev('item_created', 'folder', 10, { item_id: 1, folder_id: 10 });
    await ev('item_updated', 'folder', 10, { item_id: 1, folder_id: 10, exclude_user_id: 1 });
    await ev('item_created', 'folder', 20, { item_id: 2, folder_id: 20 });
    await ev('item_created', 'folder', 30, { item_id: 3, folder_id: 30 });
    const kb = await ev('kb_updated', 'kb', null, { kb_id: 4 });
    const all = await ev('fields_updated', 'broadcast', null, { action: 'added' });
    await ev('session_expired', 'user', 1, { reason: 'session_timeout' });
    await insertEvent(producer, { event_type: 'item_created', target_type: 'folder', target_id: null, payload: {} });
    const last = await ev('security_nudge', 'user', 3, { total: 1 });
    await waitFor(() => h.bridge.lastEventId() === last, 'the poller passes every event');

    const t = new RecordingTarget(1).subscribe(10).subscribe(20, false);
    t.kbSubscribed = true;
    h.directory.add(t);
    const result = await h.bridge.replay(t, since);
    expect(result).to.deep.equal({ recovered: true, replayed: 4 });
    expect(t.ids()).to.deep.equal([mine, folder, kb, all]);
    expect(t.received.every((r) => r.replayed)).to.equal(true);
    expect(Object.keys(t.received[0]!.frame)).to.deep.equal(['type', 'event', 'data', 'timestamp', 'event_id']);

    const live = await ev('task_progress', 'user', 1, { progress: 1 });
    await waitFor(() => t.received.length === 5, 'a live event follows the replay');
    expect(t.received[4]).to.include({ id: live, replayed: false });
  });

  it('replays nothing, recovered, when the client is up to date', async () => {
    const h = await start();
    await insertEvent(producer, { event_type: 'fields_updated', target_type: 'broadcast' });
    await waitFor(() => h.bridge.lastEventId() > 0, 'the event is dispatched');
    const t = new RecordingTarget(1);
    expect(await h.bridge.replay(t, h.bridge.lastEventId())).to.deep.equal({ recovered: true, replayed: 0 });
  });

  it('has no gap and no duplicate when live events race a replay', async function () {
    this.timeout(60_000);
    const h = await start({ poll_batch_size: 3, poll_interval_ms: 10 });
    const produced: number[] = [];
    const produce = (async () => {
      for (let i = 0; i < 120; i += 1) {
        produced.push(await insertEvent(producer, { event_type: 'system_maintenance', target_type: 'broadcast', payload: { i } }));
      }
    })();
    await waitFor(() => h.bridge.lastEventId() >= (produced[40] ?? Infinity), 'the stream is under way');
    const since = produced[10]!;
    const t = new RecordingTarget(9);
    h.directory.add(t);
    const result = await h.bridge.replay(t, since);
    await produce;
    const last = produced.at(-1)!;
    await waitFor(() => t.received.at(-1)?.id === last, 'the last live event arrives');
    const expected = produced.filter((id) => id > since);
    expect(t.ids()).to.deep.equal(expected);
    expect(result.recovered).to.equal(true);
    expect(result.replayed).to.be.greaterThan(20);
    expect(t.received.filter((r) => r.replayed).length).to.equal(result.replayed);
  });

  it('says recovered: false when the events after the id were cleaned up, or the id is from another history', async () => {
    const h = await start({ event_retention_hours: 1 });
    const ids: number[] = [];
    for (let i = 0; i < 6; i += 1) ids.push(await insertEvent(producer, { event_type: 'fields_updated', target_type: 'broadcast', payload: { i } }));
    await waitFor(() => h.bridge.lastEventId() === ids[5], 'all dispatched');
    await waitFor(async () => Number((await db.knex(db.t.events).where('id', ids[5]).first())?.processed) === 1, 'marked processed');
    // The first three were processed two hours ago: past the retention.
    await producer.knex(db.t.events).whereIn('id', ids.slice(0, 3)).update({ processed_at: nowPlusSeconds(producer, -7200) });
    const cleanup = new Cleanup(db, { retentionHours: 1, intervalSec: 3600 }, h.logger);
    expect((await cleanup.runOnce()).events).to.equal(3);

    const lost = new RecordingTarget(1);
    expect(await h.bridge.replay(lost, ids[0]!)).to.deep.equal({ recovered: false, replayed: 3 });
    expect(lost.ids(), 'what is left is still sent').to.deep.equal(ids.slice(3));
    const edge = new RecordingTarget(1);
    expect(await h.bridge.replay(edge, ids[2]!), 'the oldest retained id follows since').to.deep.equal({ recovered: true, replayed: 3 });
    const future = new RecordingTarget(1);
    expect(await h.bridge.replay(future, ids[5]! + 1000)).to.deep.equal({ recovered: false, replayed: 0 });
  });

  it('refuses a since that is not an event id', async () => {
    const h = await start();
    for (const bad of [-1, 1.5, Number.NaN]) {
      const t = new RecordingTarget(1);
      let err: unknown;
      try {
        await h.bridge.replay(t, bad);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(TeampassWsError);
      expect((err as TeampassWsError).code).to.equal('INPUT');
    }
  });
});
