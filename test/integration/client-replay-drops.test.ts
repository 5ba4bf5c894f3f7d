import { expect } from 'chai';
import { onMariaDb } from '../helpers/backends.js';
import { addFolder, grantFolder, issueToken, seedUser } from '../helpers/teampass-fixture.js';
import { steeredClient, type SteeredClient } from './node-client.js';
import { useServerSuite, waitFor } from './server-harness.js';
import { seededRandom } from '../helpers/random.js';

const FOLDER_EVENTS = 20_000;
const DROPS = 20;

/**
 * The project's client away while folder events, broadcasts and user events are written, then
 * cut off again and again during the replay that follows (the login's replay of user events and
 * broadcasts, then each folder's): it must end with every event it may see, each exactly once,
 * and its resume point must never pass one it has not received.
 */
onMariaDb('browser client: connection dropped during a 20,000-event replay [mariadb]', (backend) => {
  let client: SteeredClient | undefined;
  // Registered before the fixture's: the client stops before its server does.
  afterEach(async () => {
    await client?.stop();
    client = undefined;
  });
  const suite = useServerSuite(backend);

  interface Away {
    client: SteeredClient;
    /** A folder of the client's, for the last live event. */
    folder: number;
    /** The ids the client must end with, ascending. */
    expected: number[];
  }

  /**
   * Starts the daemon, logs the client in with two folders, keeps it away while `folderEvents`
   * folder events (and, every 400, a broadcast, a user event of its own, another user's and an
   * event of a folder it may not see) are written, and returns the ids it must end with.
   */
  async function awayWhileWritten(folderEvents: number): Promise<Away> {
    const db = suite.db;
    const srv = await suite.start({ bridge: true, config: { poll_batch_size: 2000, max_connections_per_user: 50 } });
    const user = await seedUser(db);
    const other = await seedUser(db);
    const [f1, f2, hidden] = [await addFolder(db), await addFolder(db), await addFolder(db)];
    await grantFolder(db, user.id, f1);
    await grantFolder(db, user.id, f2);

    client = await steeredClient(srv.url, await issueToken(db, user.id));
    await client.client.subscribeToFolder(f1);
    await client.client.subscribeToFolder(f2);
    const resumeBefore = client.client.getLastEventId()!;
    client.goAway();

    type Row = { event_type: string; target_type: string; target_id: number | null; payload: string };
    const rows: Row[] = [];
    const mine: boolean[] = [];
    for (let i = 0; i < folderEvents; i += 1) {
      const folder = i % 2 === 0 ? f1 : f2;
      rows.push({ event_type: 'item_updated', target_type: 'folder', target_id: folder, payload: JSON.stringify({ item_id: i, folder_id: folder }) });
      mine.push(true);
      if (i % 400 === 7) {
        rows.push({ event_type: 'fields_updated', target_type: 'broadcast', target_id: null, payload: JSON.stringify({ action: 'added', i }) });
        mine.push(true);
        rows.push({ event_type: 'task_completed', target_type: 'user', target_id: user.id, payload: JSON.stringify({ task_id: i }) });
        mine.push(true);
        rows.push({ event_type: 'task_completed', target_type: 'user', target_id: other.id, payload: JSON.stringify({ task_id: i }) });
        mine.push(false);
        rows.push({ event_type: 'item_updated', target_type: 'folder', target_id: hidden, payload: JSON.stringify({ item_id: i, folder_id: hidden }) });
        mine.push(false);
      }
    }
    for (let i = 0; i < rows.length; i += 1000) await db.knex(db.t.events).insert(rows.slice(i, i + 1000));
    const ids = (await db.knex(db.t.events).select('id').where('id', '>', resumeBefore).orderBy('id')).map((r: { id: number }) => Number(r.id));
    expect(ids).to.have.length(rows.length);
    await waitFor(() => srv.bridge!.lastEventId() >= ids[ids.length - 1]!, 'the bridge passes every inserted event', 30_000);
    return { client, folder: f1, expected: ids.filter((_, i) => mine[i]) };
  }

  /** Cuts each reconnect after the given numbers of event frames, then checks the client ends with every event once. */
  async function replayWithDrops(setup: Away, drops: number[], label: string, withinMs: number): Promise<void> {
    const { client: steered, folder, expected } = setup;
    const db = suite.db;
    steered.planDrops(drops);
    const loginsBefore = steered.logins;
    steered.comeBack();
    try {
      await waitFor(() => steered.dropsLeft() === 0 && steered.dispatched.length >= expected.length, 'every drop is made and every event dispatched', withinMs);
      // A last live event: any second copy of a replayed one would have come before it.
      const [live] = await db.knex(db.t.events).insert({ event_type: 'item_created', target_type: 'folder', target_id: folder, payload: JSON.stringify({ item_id: -1, folder_id: folder }) });
      expected.push(Number(live));
      await waitFor(() => steered.dispatched.some((m) => m.event_id === Number(live)), 'the last live event is dispatched', 10_000);
    } catch (err) {
      throw new Error(`${(err as Error).message} (${label}, drops ${drops.join(',')})`);
    }

    expect(steered.logins - loginsBefore, `one login per drop, and the one that finished (${label})`).to.equal(drops.length + 1);
    const got = steered.dispatched.map((m) => m.event_id!);
    const counts = new Map<number, number>();
    for (const id of got) counts.set(id, (counts.get(id) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    const lost = expected.filter((id) => !counts.has(id));
    const extra = got.filter((id) => !expected.includes(id));
    expect({ lost: lost.length, twice: twice.length, extra: extra.length }, `${label}, drops ${drops.join(',')}: lost ${lost.slice(0, 5)}…`).to.deep.equal({ lost: 0, twice: 0, extra: 0 });
    expect(steered.client.getLastEventId()).to.equal(expected[expected.length - 1]);
  }

  it(`ends with every event exactly once after ${DROPS} drops at random points`, async function () {
    // About 15 s on a quiet machine.
    this.timeout(180_000);
    const seed = Number(process.env.TEAMPASS_WS_TEST_SEED ?? Date.now() % 1_000_000);
    const rand = seededRandom(seed);
    const setup = await awayWhileWritten(FOLDER_EVENTS);
    // Each reconnect replays everything after the resume point again: cut it at a random frame.
    const drops = Array.from({ length: DROPS }, () => 1 + Math.floor(rand() * setup.expected.length));
    await replayWithDrops(setup, drops, `seed ${seed}`, 150_000);
  });

  it('resumes from where it was when cut right after the last replayed event, before the replies', async function () {
    this.timeout(90_000);
    const setup = await awayWhileWritten(2_000);
    // Every event frame arrived, the subscribe replies did not: nothing may count as settled.
    const all = setup.expected.length;
    await replayWithDrops(setup, [all, all, all - 1], 'cuts at the last frames', 30_000);
  });
});
