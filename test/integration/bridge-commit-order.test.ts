import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../../src/db/index.js';
import { openTestDatabase } from '../helpers/backends.js';
import { mariaDb } from '../helpers/mariadb.js';
import { counterValue, migrated, RecordingTarget, startBridge, waitUntil, type BridgeHarness } from './bridge-recorder.js';

/** InnoDB hands out AUTO_INCREMENT ids at INSERT and makes them visible at COMMIT: out of order. */
describe('event bridge: ids committed out of order [mariadb]', function () {
  let url: string;
  let db: Database;
  const conns: mysql.Connection[] = [];
  const harnesses: BridgeHarness[] = [];

  before(async function () {
    this.timeout(120_000);
    if (!(await mariaDb())) this.skip();
  });

  beforeEach(async () => {
    url = await (await mariaDb())!.createDatabase();
    db = await migrated(await openTestDatabase(url));
  });

  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.bridge.stop();
    for (const c of conns.splice(0)) await c.end().catch(() => undefined);
    await db.close();
  });

  const connect = async () => {
    const c = await mysql.createConnection(url);
    conns.push(c);
    return c;
  };
  const start = async (overrides = {}) => {
    const h = await startBridge(db, overrides);
    harnesses.push(h);
    const target = new RecordingTarget(1);
    h.directory.add(target);
    return { ...h, target };
  };
  const insertOn = async (c: mysql.Connection, n: number) => {
    const [res] = await c.query(`INSERT INTO ${db.t.events} (event_type, target_type, payload) VALUES ('system_maintenance', 'broadcast', ?)`, [JSON.stringify({ n })]);
    return (res as mysql.ResultSetHeader).insertId;
  };

  it('holds a later id while an earlier one is open, then delivers both in id order', async () => {
    const h = await start({ gap_grace_ms: 30_000 });
    const a = await connect();
    const b = await connect();
    await a.query('BEGIN');
    const n = await insertOn(a, 1);
    const n1 = await insertOn(b, 2);
    expect(n1).to.equal(n + 1);
    // Several polls and gap probes run meanwhile; the open transaction must hold the later id back.
    await sleep(1_000);
    expect(h.target.ids()).to.deep.equal([]);
    expect(h.bridge.health().dbReachable).to.equal(true);
    await a.query('COMMIT');
    await waitUntil(() => h.target.received.length === 2, 'both events arrive');
    expect(h.target.ids()).to.deep.equal([n, n1]);
    expect(h.logger.lines.filter((l) => l.level === 'warn')).to.deep.equal([]);
  });

  it('keeps the id order when several transactions commit in reverse', async () => {
    const h = await start({ gap_grace_ms: 30_000 });
    const [a, b, c] = [await connect(), await connect(), await connect()];
    await a.query('BEGIN');
    const first = await insertOn(a, 1);
    await b.query('BEGIN');
    const second = await insertOn(b, 2);
    const third = await insertOn(c, 3);
    await sleep(500);
    await b.query('COMMIT');
    await sleep(500);
    expect(h.target.ids()).to.deep.equal([]);
    await a.query('COMMIT');
    await waitUntil(() => h.target.received.length === 3, 'all three arrive');
    expect(h.target.ids()).to.deep.equal([first, second, third]);
  });

  it('moves past a rolled-back id without waiting out the grace period', async () => {
    const h = await start({ gap_grace_ms: 60_000 });
    const a = await connect();
    const b = await connect();
    await a.query('BEGIN');
    const lost = await insertOn(a, 1);
    const kept = await insertOn(b, 2);
    await sleep(300);
    await a.query('ROLLBACK');
    const t0 = Date.now();
    await waitUntil(() => h.target.received.length === 1, 'the committed event arrives', 10_000);
    expect(Date.now() - t0).to.be.lessThan(5_000);
    expect(h.target.ids()).to.deep.equal([kept]);
    expect(h.logger.lines.some((l) => l.level === 'debug' && l.meta?.from === lost)).to.equal(true);
  });

  it('looks once more before giving an id up, when a slow access recomputation outlasted the grace period', async () => {
    // Polls only when told to, so one read sees the rows on both sides of the open id.
    const h = await start({ gap_grace_ms: 800, poll_interval_ms: 60_000 });
    h.hooks.onPermissionChanged = () => sleep(1_500);
    await sleep(100);
    const a = await connect();
    const b = await connect();
    const [res] = await b.query(`INSERT INTO ${db.t.events} (event_type, target_type, target_id, payload) VALUES ('folder_permission_changed', 'user', 1, '{}')`);
    const changed = (res as mysql.ResultSetHeader).insertId;
    await a.query('BEGIN');
    const open = await insertOn(a, 1);
    const after = await insertOn(b, 2);
    h.bridge.pollNow();
    // That poll is now inside the hook, past the grace period of the open id, which commits meanwhile.
    await waitUntil(() => h.hooks.calls.length === 1, 'the hook runs');
    await a.query('COMMIT');
    await waitUntil(() => h.target.received.length === 3, 'all three arrive');
    expect(h.target.ids()).to.deep.equal([changed, open, after]);
    expect(await counterValue(h.metrics, 'badEvents', { reason: 'late_commit' })).to.equal(0);
  });

  it('gives an id up after gap_grace_ms, warns when it commits later, and leaves it to recovery', async () => {
    const h = await start({ gap_grace_ms: 800 });
    const a = await connect();
    const b = await connect();
    await a.query('BEGIN');
    const late = await insertOn(a, 1);
    const t0 = Date.now();
    const next = await insertOn(b, 2);
    await waitUntil(() => h.target.received.length === 1, 'the later event goes out once the grace period is over');
    expect(Date.now() - t0).to.be.greaterThanOrEqual(700);
    expect(h.target.ids()).to.deep.equal([next]);
    expect(h.logger.lines.some((l) => l.level === 'warn' && /did not commit within gap_grace_ms/.test(l.message))).to.equal(true);

    await a.query('COMMIT');
    await waitUntil(async () => (await counterValue(h.metrics, 'badEvents', { reason: 'late_commit' })) === 1, 'the late commit is noticed');
    expect(h.logger.lines.some((l) => l.level === 'warn' && l.meta?.event_id === late && /committed after its id was given up/.test(l.message))).to.equal(true);
    await waitUntil(async () => {
      const row = await db.knex(db.t.events).where('id', late).first();
      return Number(row?.processed) === 1;
    }, 'the late row is marked processed');
    expect(h.target.ids()).to.deep.equal([next]);

    // A client that reconnects from before the gap gets both, in order.
    const again = new RecordingTarget(1);
    const result = await h.bridge.replay(again, late - 1);
    expect(result).to.deep.equal({ recovered: true, replayed: 2 });
    expect(again.ids()).to.deep.equal([late, next]);
  });
});
