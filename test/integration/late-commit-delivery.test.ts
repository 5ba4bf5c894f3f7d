import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../src/config/index.js';
import { onMariaDb } from '../helpers/backends.js';
import { addFolder, grantFolder, issueToken, seedUser, type SeededUser } from '../helpers/teampass-fixture.js';
import type { TestWsClient } from '../helpers/ws-client.js';
import { steeredClient, type SteeredClient } from './node-client.js';
import { connected, useServerSuite, waitFor } from './server-harness.js';

/**
 * A producer whose transaction stays open (InnoDB has handed out its id, the row is not visible
 * yet) while other producers write. Nobody's events may wait for it, and its own event is still
 * delivered when it commits: live to the connections that are there, by recovery to the one that
 * was away, once each, with its event_id.
 */
onMariaDb('serve: a slow producer transaction [mariadb]', (backend) => {
  const conns: mysql.Connection[] = [];
  const steered: SteeredClient[] = [];
  // Registered before the fixture's: clients and producer connections end before the server stops.
  afterEach(async () => {
    for (const c of steered.splice(0)) await c.stop();
    for (const c of conns.splice(0)) await c.end().catch(() => undefined);
  });
  const suite = useServerSuite(backend);

  const producer = async () => {
    const c = await mysql.createConnection(suite.url);
    conns.push(c);
    return c;
  };
  const insertOn = async (c: mysql.Connection, folder: number, label: string) => {
    const [res] = await c.query(`INSERT INTO ${suite.db.t.events} (event_type, target_type, target_id, payload) VALUES ('item_updated', 'folder', ?, ?)`, [
      folder,
      JSON.stringify({ item_id: 1, folder_id: folder, label }),
    ]);
    return (res as mysql.ResultSetHeader).insertId;
  };
  const eventIds = (client: TestWsClient) => client.received.filter((f) => f.type === 'event').map((f) => f.event_id as number);
  const dispatchedIds = (c: SteeredClient) => c.dispatched.map((m) => m.event_id!);
  const count = (ids: number[], id: number) => ids.filter((x) => x === id).length;

  /**
   * A generous bound for "not held": far above the poll interval, far below the time the
   * transaction stays open (it commits only after these waits succeed).
   */
  const NOT_HELD_MS = 4_000;

  async function holdOpen(holdMs: number, config: Partial<Config>): Promise<void> {
    const db = suite.db;
    const srv = await suite.start({ bridge: true, config });
    const folder = await addFolder(db);
    const other = await addFolder(db);
    const users: SeededUser[] = [];
    for (let i = 0; i < 4; i += 1) users.push(await seedUser(db));
    for (const u of users.slice(0, 3)) await grantFolder(db, u.id, folder);
    await grantFolder(db, users[3]!.id, other);

    // alice and dave run the project's client; bob and carol read raw frames; carol watches another folder.
    const alice = await steeredClient(srv.url, await issueToken(db, users[0]!.id));
    const dave = await steeredClient(srv.url, await issueToken(db, users[2]!.id));
    steered.push(alice, dave);
    await alice.client.subscribeToFolder(folder);
    await dave.client.subscribeToFolder(folder);
    const bob = await srv.client(`?token=${await issueToken(db, users[1]!.id)}`);
    const carol = await srv.client(`?token=${await issueToken(db, users[3]!.id)}`);
    await connected(bob);
    await connected(carol);
    await bob.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } });
    await carol.request({ action: 'subscribe', channel: 'folder', data: { folder_id: other } });

    const slow = await producer();
    const busy = await producer();
    await slow.query('BEGIN');
    const late = await insertOn(slow, folder, 'slow transaction');
    const startedAt = Date.now();
    const others: number[] = [];
    do {
      const id = await insertOn(busy, folder, `other ${others.length}`);
      others.push(id);
      await waitFor(() => eventIds(bob).includes(id) && dispatchedIds(alice).includes(id), 'bob and alice get the other event, not held behind the open one', NOT_HELD_MS);
      // The resume point of a client never passes an event it has not received.
      expect(alice.client.getLastEventId()).to.be.below(late);
      await sleep(100);
    } while (Date.now() - startedAt < holdMs);
    expect(Math.min(...others)).to.be.above(late);

    // dave is away when the slow transaction commits.
    const daveResume = dave.client.getLastEventId()!;
    expect(daveResume).to.be.below(late);
    dave.goAway();
    await slow.query('COMMIT');
    await waitFor(() => eventIds(bob).includes(late) && dispatchedIds(alice).includes(late), 'bob and alice get the late event once it commits', NOT_HELD_MS);
    const frame = bob.received.find((f) => f.event_id === late)!;
    expect(frame).to.deep.include({ type: 'event', event: 'item_updated' });
    expect(frame.data).to.deep.include({ label: 'slow transaction' });

    dave.comeBack();
    await waitFor(() => dispatchedIds(dave).includes(late), 'dave gets the late event after coming back', 10_000);
    // One more event, so any second copy of the late one would have arrived before it.
    const last = await insertOn(busy, folder, 'last');
    await waitFor(() => [alice, dave].every((c) => dispatchedIds(c).includes(last)) && eventIds(bob).includes(last), 'everyone gets the last event', NOT_HELD_MS);
    for (const ids of [eventIds(bob), dispatchedIds(alice), dispatchedIds(dave)]) {
      expect(count(ids, late), `the late event once in ${ids}`).to.equal(1);
      for (const id of [...others, last]) expect(count(ids, id), `event ${id} once`).to.equal(1);
    }
    expect(eventIds(carol), 'nothing reaches a subscriber of another folder').to.deep.equal([]);
    // Everyone's resume point passes the late event once it has it.
    expect(alice.client.getLastEventId()).to.be.at.least(last);

    // A raw reconnect from dave's old resume point gets it by recovery too.
    const again = await srv.client(`?token=${await issueToken(db, users[2]!.id)}&since=${daveResume}`);
    await connected(again);
    await again.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } });
    expect(count(eventIds(again), late)).to.equal(1);
  }

  it('held 1 s: the others go out at once, the late event live to those connected and by recovery to the one away', async function () {
    this.timeout(60_000);
    await holdOpen(1_000, { poll_interval_ms: 50 });
  });

  it('held 13 s (longer than the former 10 s gap_grace_ms)', async function () {
    this.timeout(90_000);
    await holdOpen(13_000, { poll_interval_ms: 50 });
  });

  // 60 s at the default 200 ms poll interval is 300 polls and gap probes of the open id; at a
  // 10 ms poll interval the same 300 polls take 3 s. Every other timer in the poller is shorter
  // than either, so the case is the same but for the wall-clock time.
  it('held "60 s": 300 polls of the open id, as 60 s at the default poll interval', async function () {
    this.timeout(60_000);
    await holdOpen(3_000, { poll_interval_ms: 10 });
  });
});
