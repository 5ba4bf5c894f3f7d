import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../../src/db/index.js';
import { forEachBackend } from '../helpers/backends.js';
import { waitFor } from '../helpers/wait.js';
import { counterValue, insertEvent, RecordingTarget } from './bridge-recorder.js';
import { useServerSuite } from './server-harness.js';

forEachBackend('event bridge: polling and routing', (backend) => {
  const suite = useServerSuite(backend, { schema: 'daemon' });
  let db: Database;
  let producer: Database;
  beforeEach(async () => {
    db = suite.db;
    producer = await suite.connection();
  });
  const start = (overrides = {}) => suite.startBridge(overrides);

  it('starts after the newest event: older rows are not sent and are marked processed', async () => {
    const old = await insertEvent(producer, { event_type: 'system_maintenance', target_type: 'broadcast', payload: { message: 'old' } });
    const h = await start();
    const t = new RecordingTarget(1);
    h.directory.add(t);
    expect(h.bridge.lastEventId()).to.equal(old);
    const fresh = await insertEvent(producer, { event_type: 'system_maintenance', target_type: 'broadcast', payload: { message: 'new' } });
    await waitFor(() => t.received.length === 1, 'the new broadcast arrives');
    await sleep(100);
    expect(t.ids()).to.deep.equal([fresh]);
    await waitFor(async () => {
      const rows = await db.knex(db.t.events).select('id', 'processed').orderBy('id');
      return rows.every((r: { processed: number }) => Number(r.processed) === 1);
    }, 'both rows are marked processed');
  });

  it('starts after the last id handed out when cleanup has emptied the table', async () => {
    for (let i = 0; i < 5; i += 1) await insertEvent(producer, { event_type: 'system_maintenance', target_type: 'broadcast' });
    await producer.knex(db.t.events).delete();
    const h = await start({ gap_grace_ms: 60_000 });
    const t = new RecordingTarget(1);
    h.directory.add(t);
    expect(h.bridge.lastEventId()).to.equal(5);
    const id = await insertEvent(producer, { event_type: 'system_maintenance', target_type: 'broadcast' });
    expect(id).to.equal(6);
    await waitFor(() => t.received.length === 1, 'the first new event arrives without a gap to wait out', 3_000);
  });

  it('routes user, folder, kb and broadcast events to exactly the connections that may see them', async () => {
    const h = await start();
    const alice1 = new RecordingTarget(1).subscribe(10);
    const alice2 = new RecordingTarget(1);
    const bob = new RecordingTarget(2).subscribe(10).subscribe(20, false);
    const carol = new RecordingTarget(3).subscribe(20);
    carol.kbSubscribed = true;
    const dave = new RecordingTarget(4);
    h.directory.add(alice1, alice2, bob, carol, dave);

    const userEv = await insertEvent(producer, { event_type: 'task_progress', target_type: 'user', target_id: 1, payload: { task_id: 7, progress: 3, total: 10 } });
    const folderEv = await insertEvent(producer, { event_type: 'item_updated', target_type: 'folder', target_id: 10, payload: { item_id: 5, folder_id: 10, label: 'DB', updated_by: 'bob', exclude_user_id: 2 } });
    const noAccessEv = await insertEvent(producer, { event_type: 'item_created', target_type: 'folder', target_id: 20, payload: { item_id: 6, folder_id: 20, label: 'x' } });
    const kbEv = await insertEvent(producer, { event_type: 'kb_created', target_type: 'kb', target_id: null, payload: { kb_id: 3, label: 'How to' } });
    const allEv = await insertEvent(producer, { event_type: 'fields_updated', target_type: 'broadcast', payload: { action: 'added', label: 'PIN' } });

    await waitFor(() => dave.received.length === 1 && carol.received.length === 3, 'the last events arrive');
    await sleep(150);
    expect(alice1.ids(), 'alice, subscribed to 10').to.deep.equal([userEv, folderEv, allEv]);
    expect(alice2.ids(), 'alice, second connection, no folder').to.deep.equal([userEv, allEv]);
    expect(bob.ids(), 'bob is the actor of the folder event and may not access 20').to.deep.equal([allEv]);
    expect(carol.ids(), 'carol sees folder 20 and the KB').to.deep.equal([noAccessEv, kbEv, allEv]);
    expect(dave.ids(), 'dave only gets broadcasts').to.deep.equal([allEv]);

    const frame = alice1.received[1]!;
    expect(frame.raw.startsWith('{"type":"event","event":"item_updated","data":{')).to.equal(true);
    expect(Object.keys(frame.frame)).to.deep.equal(['type', 'event', 'data', 'timestamp', 'event_id', 'settled_event_id']);
    expect(frame.frame.data).to.deep.equal({ item_id: 5, folder_id: 10, label: 'DB', updated_by: 'bob', exclude_user_id: 2 });
    expect(frame.frame.event_id).to.equal(folderEv);
    expect(Math.abs(frame.frame.timestamp - Date.now() / 1000)).to.be.lessThan(120);
    // One serialisation per event, encoded to bytes once: every recipient got the same buffer.
    const broadcastFrames = new Set([alice1, alice2, bob, carol, dave].map((t) => t.received.at(-1)!.wire));
    expect(broadcastFrames.size).to.equal(1);
    expect(Buffer.isBuffer([...broadcastFrames][0])).to.equal(true);

    expect(await counterValue(h.metrics, 'eventsDelivered', { event_type: 'fields_updated' })).to.equal(5);
    expect(await counterValue(h.metrics, 'eventsDelivered', { event_type: 'task_progress' })).to.equal(2);
    expect(await counterValue(h.metrics, 'eventsPolled')).to.equal(5);
  });

  it('sends the timestamp as created_at in unix seconds, whatever the time zones', async () => {
    const when = 1_700_000_000;
    if (producer.client === 'mysql') {
      // The daemon's sessions run in -05:00, the producer's in +09:00, the server's is whatever it is.
      await producer.knex.raw(`SET GLOBAL time_zone = '-05:00'`);
      try {
        const reader = await suite.connection();
        const [[tz]] = (await reader.knex.raw('SELECT @@session.time_zone AS tz')) as [[{ tz: string }]];
        expect(tz.tz).to.equal('-05:00');
        const h = await suite.startBridge({}, reader);
        const t = new RecordingTarget(1);
        h.directory.add(t);
        await producer.knex.transaction(async (trx) => {
          await trx.raw(`SET time_zone = '+09:00'`);
          await trx.raw(`INSERT INTO ${db.t.events} (created_at, event_type, target_type, target_id, payload) VALUES (FROM_UNIXTIME(?), 'task_completed', 'user', 1, '{"task_id":1}')`, [when]);
        });
        await waitFor(() => t.received.length === 1, 'the event arrives');
        expect(t.received[0]!.frame.timestamp).to.equal(when);
      } finally {
        await producer.knex.raw(`SET GLOBAL time_zone = 'SYSTEM'`);
      }
    } else {
      const h = await start();
      const t = new RecordingTarget(1);
      h.directory.add(t);
      await producer.knex.raw(`INSERT INTO ${db.t.events} (created_at, event_type, target_type, target_id, payload) VALUES (datetime(?, 'unixepoch'), 'task_completed', 'user', 1, '{"task_id":1}')`, [when]);
      await waitFor(() => t.received.length === 1, 'the event arrives');
      expect(t.received[0]!.frame.timestamp).to.equal(when);
    }
  });

  it('logs, counts and marks processed the rows it cannot deliver, and keeps going', async () => {
    const h = await start();
    const alice = new RecordingTarget(1).subscribe(10);
    h.directory.add(alice);
    if (producer.client === 'mysql') {
      // TeamPass tables created on MySQL and moved to MariaDB, or by hand, may hold any text.
      await producer.knex.raw(`ALTER TABLE ${db.t.events} MODIFY payload LONGTEXT NOT NULL`);
    }
    const badJson = await insertEvent(producer, { event_type: 'item_created', target_type: 'folder', target_id: 10, payload: '{"item_id": 5,' });
    const noUser = await insertEvent(producer, { event_type: 'task_progress', target_type: 'user', target_id: null, payload: { task_id: 1 } });
    const noFolder = await insertEvent(producer, { event_type: 'item_created', target_type: 'folder', target_id: null, payload: { item_id: 1 } });
    let unknownTarget: number;
    if (producer.client === 'mysql') {
      // Outside strict mode MySQL stores an unknown ENUM value as ''.
      unknownTarget = await producer.knex.transaction(async (trx) => {
        await trx.raw(`SET SESSION sql_mode = ''`);
        const [res] = (await trx.raw(`INSERT INTO ${db.t.events} (event_type, target_type, target_id, payload) VALUES ('item_created', 'team', 1, '{}')`)) as [{ insertId: number }];
        return Number(res.insertId);
      });
    } else {
      unknownTarget = await producer.knex.transaction(async (trx) => {
        await trx.raw('PRAGMA ignore_check_constraints = 1');
        const ids = await trx(db.t.events).insert({ event_type: 'item_created', target_type: 'team', target_id: 1, payload: '{}' });
        await trx.raw('PRAGMA ignore_check_constraints = 0');
        return Number(ids[0]);
      });
    }
    const good = await insertEvent(producer, { event_type: 'item_created', target_type: 'folder', target_id: 10, payload: { item_id: 9, folder_id: 10 } });
    await waitFor(() => alice.received.length === 1, 'the good event after the bad ones arrives');
    expect(alice.ids()).to.deep.equal([good]);
    expect(await counterValue(h.metrics, 'badEvents', { reason: 'invalid_payload' })).to.equal(1);
    expect(await counterValue(h.metrics, 'badEvents', { reason: 'missing_target_id' })).to.equal(2);
    expect(await counterValue(h.metrics, 'badEvents', { reason: 'unknown_target_type' })).to.equal(1);
    const warned = h.logger.lines.filter((l) => l.level === 'warn' && /^Skipping event/.test(l.message)).map((l) => l.meta?.event_id);
    expect(warned).to.deep.equal([badJson, noUser, noFolder, unknownTarget]);
    await waitFor(async () => {
      const rows = await db.knex(db.t.events).select('processed').whereIn('id', [badJson, noUser, noFolder, unknownTarget, good]);
      return rows.length === 5 && rows.every((r: { processed: number }) => Number(r.processed) === 1);
    }, 'bad rows are marked processed');
  });

  it('delivers folder_permission_changed, then waits for the access recomputation before routing the next event', async () => {
    const h = await start();
    const bob = new RecordingTarget(2).subscribe(10);
    h.directory.add(bob);
    h.hooks.onPermissionChanged = async (userId) => {
      await sleep(150);
      if (userId === 2) {
        bob.access.delete(10);
        bob.folders = bob.folders.filter((f) => f !== 10);
      }
    };
    const changed = await insertEvent(producer, { event_type: 'folder_permission_changed', target_type: 'user', target_id: 2, payload: { role_id: 4, folders: [10], access: 'none' } });
    await insertEvent(producer, { event_type: 'item_updated', target_type: 'folder', target_id: 10, payload: { item_id: 1, folder_id: 10 } });
    const after = await insertEvent(producer, { event_type: 'system_maintenance', target_type: 'broadcast', payload: { message: 'x' } });
    await waitFor(() => bob.received.length === 2, 'the broadcast after the revocation arrives');
    expect(bob.ids()).to.deep.equal([changed, after]);
    expect(h.hooks.calls).to.deep.equal([{ hook: 'folderPermissionChanged', userId: 2, framesBefore: 1 }]);
  });

  it('delivers session_expired to every connection of the user, then asks the server to close them', async () => {
    const h = await start();
    const a = new RecordingTarget(5);
    const b = new RecordingTarget(5);
    const other = new RecordingTarget(6);
    h.directory.add(a, b, other);
    const id = await insertEvent(producer, { event_type: 'session_expired', target_type: 'user', target_id: 5, payload: { reason: 'account_disabled' } });
    await waitFor(() => h.hooks.calls.length === 1, 'the hook runs');
    expect(h.hooks.calls[0]).to.deep.equal({ hook: 'sessionExpired', userId: 5, reason: 'account_disabled', framesBefore: 2 });
    expect(a.ids()).to.deep.equal([id]);
    expect(b.ids()).to.deep.equal([id]);
    expect(a.closed?.code).to.equal(4401);
    expect(other.received).to.deep.equal([]);
    expect(other.closed).to.equal(undefined);
  });

  it('lets three bridges on one database each deliver every event to their own connections', async () => {
    const hs = [await start(), await start(), await start()];
    const targets = hs.map((h) => {
      const t = new RecordingTarget(1).subscribe(10);
      h.directory.add(t);
      return t;
    });
    const ids: number[] = [];
    for (let i = 0; i < 30; i += 1) {
      ids.push(await insertEvent(producer, { event_type: 'item_updated', target_type: 'folder', target_id: 10, payload: { item_id: i, folder_id: 10 } }));
    }
    await waitFor(() => targets.every((t) => t.received.length === 30), 'every bridge delivers all 30 events', 20_000);
    for (const t of targets) expect(t.ids()).to.deep.equal(ids);
  });

  it('keeps up with a backlog larger than one batch, in order', async () => {
    const h = await start({ poll_batch_size: 7 });
    const t = new RecordingTarget(1);
    h.directory.add(t);
    const rows = Array.from({ length: 50 }, (_, i) => ({ event_type: 'task_progress', target_type: 'user', target_id: 1, payload: JSON.stringify({ progress: i }) }));
    await producer.knex(db.t.events).insert(rows);
    await waitFor(() => t.received.length === 50, 'all 50 events arrive');
    expect(t.received.map((r) => (r.frame.data as { progress: number }).progress)).to.deep.equal(rows.map((_, i) => i));
  });

  it('polls at once on pollNow, without waiting for the interval', async () => {
    const h = await start({ poll_interval_ms: 60_000 });
    const t = new RecordingTarget(1);
    h.directory.add(t);
    // The first poll ran at start; the next is a minute away.
    await sleep(100);
    const id = await insertEvent(producer, { event_type: 'task_completed', target_type: 'user', target_id: 1 });
    await sleep(300);
    expect(t.received).to.deep.equal([]);
    h.bridge.pollNow();
    await waitFor(() => t.received.length === 1, 'pollNow delivers', 3_000);
    expect(t.ids()).to.deep.equal([id]);
  });

  it('reports health: reachable, small lag, the last event id', async () => {
    const h = await start();
    const id = await insertEvent(producer, { event_type: 'task_completed', target_type: 'user', target_id: 1 });
    await waitFor(() => h.bridge.lastEventId() === id, 'the poller passes the event');
    const health = h.bridge.health();
    expect(health.dbReachable).to.equal(true);
    expect(health.lastEventId).to.equal(id);
    expect(health.pollLagMs).to.be.lessThan(5_000);
  });

  it('stops twice without complaint', async () => {
    const h = await start();
    await Promise.all([h.bridge.stop(), h.bridge.stop()]);
    await h.bridge.stop();
  });
});
