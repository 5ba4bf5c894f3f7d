import { expect } from 'chai';
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { createEventBridge } from '../../src/bridge/index.js';
import { nowPlusSeconds, type Database } from '../../src/db/index.js';
import { TeampassWsError } from '../../src/errors.js';
import { createMetrics } from '../../src/metrics/index.js';
import { forEachBackend } from '../helpers/backends.js';
import { testConfig } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait.js';
import {
  freeUdpPort,
  insertEvent,
  RecordingHooks,
  recordingLogger,
  RecordingTarget,
  TestDirectory,
} from './bridge-recorder.js';
import { useServerSuite } from './server-harness.js';


async function sendDatagram(port: number, text = 'wake'): Promise<void> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => s.send(text, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  s.close();
}

forEachBackend('event bridge: cleanup and wake-up', (backend) => {
  const suite = useServerSuite(backend, { schema: 'daemon' });
  let db: Database;
  let producer: Database;
  beforeEach(async () => {
    db = suite.db;
    producer = await suite.connection();
  });
  const start = (overrides = {}) => suite.startBridge(overrides);

  it('deletes old processed events, expired tokens and old closed connection rows at start, and nothing else', async () => {
    const { knex, t } = producer;
    const ago = (s: number) => nowPlusSeconds(producer, -s);
    const [oldProcessed] = await knex(t.events).insert({ event_type: 'a', target_type: 'broadcast', payload: '{}', processed: 1, processed_at: ago(25 * 3600) });
    const [recentProcessed] = await knex(t.events).insert({ event_type: 'b', target_type: 'broadcast', payload: '{}', processed: 1, processed_at: ago(3600) });
    const [oldUnprocessed] = await knex(t.events).insert({ event_type: 'c', target_type: 'broadcast', payload: '{}', created_at: ago(48 * 3600) });
    await knex(t.tokens).insert([
      { user_id: 1, token: 'a'.repeat(64), expires_at: ago(10) },
      { user_id: 1, token: 'b'.repeat(64), expires_at: nowPlusSeconds(producer, 3600) },
    ]);
    await knex(t.connections).insert([
      { user_id: 1, resource_id: 'old', connected_at: ago(50 * 3600), disconnected_at: ago(25 * 3600) },
      { user_id: 1, resource_id: 'recent', connected_at: ago(7200), disconnected_at: ago(3600) },
      { user_id: 1, resource_id: 'open', connected_at: ago(48 * 3600), disconnected_at: null },
    ]);
    const h = await start({ event_retention_hours: 24 });
    await waitFor(() => h.logger.lines.some((l) => l.message === 'Cleaned up old rows'), 'the first cleanup ran');
    const events = (await knex(t.events).select('id').orderBy('id')).map((r: { id: number }) => Number(r.id));
    expect(events).to.deep.equal([Number(recentProcessed), Number(oldUnprocessed)]);
    expect(events).to.not.include(Number(oldProcessed));
    expect((await knex(t.tokens).select('token')).map((r: { token: string }) => r.token)).to.deep.equal(['b'.repeat(64)]);
    expect((await knex(t.connections).select('resource_id').orderBy('id')).map((r: { resource_id: string }) => r.resource_id)).to.deep.equal(['recent', 'open']);
    expect(h.logger.lines.find((l) => l.message === 'Cleaned up old rows')?.meta).to.deep.equal({ events: 1, tokens: 1, connections: 1 });
  });

  it('polls at once when a datagram arrives on the wake-up port', async () => {
    const port = await freeUdpPort();
    const h = await start({ poll_interval_ms: 60_000, wake_port: port });
    expect(h.bridge.wakePort()).to.equal(port);
    const target = new RecordingTarget(1);
    h.directory.add(target);
    await sleep(100);
    const first = await insertEvent(producer, { event_type: 'task_completed', target_type: 'user', target_id: 1 });
    await sleep(300);
    expect(target.received, 'no poll is due for a minute').to.deep.equal([]);
    await sendDatagram(port);
    await waitFor(() => target.received.length === 1, 'the datagram triggers a poll', 3_000);
    // A burst of datagrams is coalesced and the poller keeps working.
    const second = await insertEvent(producer, { event_type: 'task_completed', target_type: 'user', target_id: 1 });
    await Promise.all(Array.from({ length: 50 }, () => sendDatagram(port, 'x'.repeat(100))));
    await waitFor(() => target.received.length === 2, 'the burst delivers the next event', 3_000);
    expect(target.ids()).to.deep.equal([first, second]);
  });

  it('refuses to start when the wake-up port is taken, saying which key to change', async () => {
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', () => resolve()));
    try {
      const directory = new TestDirectory();
      const bridge = createEventBridge({
        db,
        config: testConfig({ wake_port: taken.address().port }),
        logger: recordingLogger(),
        metrics: createMetrics({ processMetrics: false }),
        directory,
        hooks: new RecordingHooks(directory),
      });
      let err: unknown;
      try {
        await bridge.start();
      } catch (e) {
        err = e;
      } finally {
        await bridge.stop();
      }
      expect(err).to.be.instanceOf(TeampassWsError);
      expect((err as TeampassWsError).message).to.match(/wake-up datagrams on 127\.0\.0\.1:\d+.*EADDRINUSE/);
      expect((err as TeampassWsError).suggestion).to.match(/wake_port/);
    } finally {
      taken.close();
    }
  });

  it('has no wake-up port when wake_port is 0', async () => {
    const h = await start({ wake_port: 0 });
    expect(h.bridge.wakePort()).to.equal(0);
  });
});
