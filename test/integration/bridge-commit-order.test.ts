import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { setTimeout as sleep } from 'node:timers/promises';
import { onMariaDb } from '../helpers/backends.js';
import { waitFor } from '../helpers/wait.js';
import { counterValue, RecordingTarget } from './bridge-recorder.js';
import { useServerSuite } from './server-harness.js';

/** InnoDB hands out AUTO_INCREMENT ids at INSERT and makes them visible at COMMIT: out of order. Nobody waits for an open one. */
onMariaDb('event bridge: ids committed out of order [mariadb]', (backend) => {
  const conns: mysql.Connection[] = [];
  // Registered before the fixture's, so the transactions end before the bridge stops.
  afterEach(async () => {
    for (const c of conns.splice(0)) await c.end().catch(() => undefined);
  });
  const suite = useServerSuite(backend, { schema: 'daemon' });

  const connect = async () => {
    const c = await mysql.createConnection(suite.url);
    conns.push(c);
    return c;
  };
  const start = async (overrides = {}) => {
    const h = await suite.startBridge(overrides);
    const target = new RecordingTarget(1);
    h.directory.add(target);
    return { ...h, target };
  };
  const insertOn = async (c: mysql.Connection, n: number) => {
    const [res] = await c.query(`INSERT INTO ${suite.db.t.events} (event_type, target_type, payload) VALUES ('system_maintenance', 'broadcast', ?)`, [JSON.stringify({ n })]);
    return (res as mysql.ResultSetHeader).insertId;
  };

  const settledOf = (h: { target: RecordingTarget }, id: number) => (h.target.received.find((r) => r.id === id)!.frame as { settled_event_id?: number }).settled_event_id;

  it('sends a later id at once while an earlier one is open, then the earlier one when it commits', async () => {
    const h = await start();
    const a = await connect();
    const b = await connect();
    await a.query('BEGIN');
    const n = await insertOn(a, 1);
    const n1 = await insertOn(b, 2);
    expect(n1).to.equal(n + 1);
    await waitFor(() => h.target.received.length === 1, 'the later event goes out while the earlier transaction is open');
    expect(h.target.ids()).to.deep.equal([n1]);
    expect(settledOf(h, n1), 'the watermark stays below the open id').to.equal(n - 1);
    expect(h.bridge.settledEventId()).to.equal(n - 1);
    await a.query('COMMIT');
    await waitFor(() => h.target.received.length === 2, 'the earlier event arrives when it commits');
    expect(h.target.ids()).to.deep.equal([n1, n]);
    expect(settledOf(h, n)).to.equal(n1);
    expect(h.logger.lines.filter((l) => l.level === 'warn')).to.deep.equal([]);
  });

  it('sends each of several transactions committed in reverse as it commits, once', async () => {
    const h = await start();
    const [a, b, c] = [await connect(), await connect(), await connect()];
    await a.query('BEGIN');
    const first = await insertOn(a, 1);
    await b.query('BEGIN');
    const second = await insertOn(b, 2);
    const third = await insertOn(c, 3);
    await waitFor(() => h.target.received.length === 1, 'the committed one');
    await b.query('COMMIT');
    await waitFor(() => h.target.received.length === 2, 'the second');
    await a.query('COMMIT');
    await waitFor(() => h.target.received.length === 3, 'the first');
    await sleep(300);
    expect(h.target.ids()).to.deep.equal([third, second, first]);
    expect(h.bridge.settledEventId()).to.equal(third);
  });

  it('settles a rolled-back id at once, without waiting out gap_grace_ms', async () => {
    const h = await start({ gap_grace_ms: 600_000 });
    const a = await connect();
    const b = await connect();
    await a.query('BEGIN');
    const lost = await insertOn(a, 1);
    const kept = await insertOn(b, 2);
    await waitFor(() => h.target.received.length === 1, 'the committed event arrives');
    await a.query('ROLLBACK');
    await waitFor(() => h.bridge.settledEventId() === kept, 'the watermark passes the rolled-back id');
    expect(h.target.ids()).to.deep.equal([kept]);
    expect(h.logger.lines.some((l) => l.level === 'debug' && l.meta?.from === lost)).to.equal(true);
  });

  it('stops watching an id after gap_grace_ms, warns and counts it, and leaves a later commit to recovery', async () => {
    const h = await start({ gap_grace_ms: 800 });
    const a = await connect();
    const b = await connect();
    await a.query('BEGIN');
    const late = await insertOn(a, 1);
    const next = await insertOn(b, 2);
    await waitFor(() => h.logger.lines.some((l) => l.level === 'warn' && l.meta?.from === late && /no longer watched/.test(l.message)), 'the id is given up');
    expect(await counterValue(h.metrics, 'badEvents', { reason: 'never_committed' })).to.equal(1);
    expect(h.bridge.settledEventId()).to.equal(next);
    await a.query('COMMIT');
    const after = await insertOn(b, 3);
    await waitFor(() => h.target.ids().includes(after), 'a later event');
    expect(h.target.ids()).to.deep.equal([next, after]);

    // A client that reconnects from before the gap gets it.
    const again = new RecordingTarget(1);
    const result = await h.bridge.replay(again, late - 1);
    expect(result.recovered).to.equal(true);
    expect(again.ids()).to.deep.equal([late, next, after]);
  });
});
