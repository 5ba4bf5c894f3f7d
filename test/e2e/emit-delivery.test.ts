import { expect } from 'chai';
import type { Database } from '../../src/db/index.js';
import { cleanupTempDirs, forEachBackend } from '../helpers/backends.js';
import { runCli, startCli, type RunningCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mariadb.js';
import { addFolder, createTeampassDatabase, grantFolder, issueToken, seedUser, setTeampassSetting, type SeededUser } from '../helpers/teampass-fixture.js';
import { closeAll, connect, type TestWsClient } from '../helpers/ws-client.js';

const LISTENING = /teampass-ws listening on ws:\/\/127\.0\.0\.1:(\d+)/;

interface EmitJson {
  id: number;
  ids: number[];
  payload: Record<string, unknown>;
  processed?: boolean;
  waited_ms?: number;
  wake: unknown;
}

forEachBackend('emit to a running daemon', (backend) => {
  let url: string;
  let db: Database;
  let daemon: RunningCli | undefined;
  let port: number;
  let wakePort: number;
  let alice: SeededUser;
  let bob: SeededUser;
  let folder: number;
  const clients: TestWsClient[] = [];

  const client = async (user: SeededUser) => {
    const c = await connect(`ws://127.0.0.1:${port}/ws?token=${await issueToken(db, user.id)}`);
    clients.push(c);
    await c.nextOfType('connected');
    return c;
  };
  const emit = async (args: string[]) => {
    const r = await runCli(['emit', ...args, '--db', url, '--wake-port', String(wakePort), '--wait', '--timeout', '20', '--json'], { timeoutMs: 40_000 });
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    return JSON.parse(r.stdout) as EmitJson;
  };

  beforeEach(async function () {
    this.timeout(90_000);
    url = await backend().newDatabaseUrl();
    db = await createTeampassDatabase(url);
    await setTeampassSetting(db, 'websocket_enabled', '1');
    alice = await seedUser(db, { login: 'alice' });
    bob = await seedUser(db, { login: 'bob' });
    folder = await addFolder(db);
    await grantFolder(db, alice.id, folder);
    await grantFolder(db, bob.id, folder);
    port = await freePort();
    wakePort = await freePort();
    // A minute between polls: an event that arrives within seconds was fetched because emit woke the daemon.
    daemon = startCli(['serve', '--db', url, '--host', '127.0.0.1', '--port', String(port), '--poll-interval-ms', '60000', '--wake-port', String(wakePort)]);
    await daemon.waitFor(LISTENING, 60_000);
  });
  afterEach(async function () {
    this.timeout(30_000);
    await closeAll(clients.splice(0));
    await daemon?.stop();
    daemon = undefined;
    await db.close();
  });
  after(cleanupTempDirs);

  it('reaches the subscribers of the folder at once, except the acting user, and --wait sees it processed', async function () {
    this.timeout(60_000);
    const a = await client(alice);
    const b = await client(bob);
    for (const c of [a, b]) expect(await c.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } })).to.include({ action: 'subscribed' });

    const started = Date.now();
    const out = await emit(['item_created', 'item_id=5', `folder_id=${folder}`, 'label=VPN router', `created_by=${bob.id}`, '--exclude-user', String(bob.id)]);
    expect(out.processed).to.equal(true);
    expect(out.wake).to.equal('sent');
    const event = await a.next((f) => f.type === 'event', 10_000);
    expect(Date.now() - started, 'woken up, not the 60 s poll').to.be.lessThan(15_000);
    expect(event).to.deep.include({ event: 'item_created', event_id: out.id });
    expect(event.data).to.deep.equal(out.payload);
    expect(event.data).to.include({ item_id: 5, folder_id: folder, label: 'VPN router', exclude_user_id: bob.id });
    expect(await b.none((f) => f.type === 'event', 1000), 'the acting user is excluded').to.equal(true);
    const row = (await db.knex(db.t.events).where({ id: out.id }).first('processed')) as { processed: number };
    expect(Number(row.processed)).to.equal(1);
  });

  it("delivers to one user's connections and to everyone", async function () {
    this.timeout(60_000);
    const a = await client(alice);
    const b = await client(bob);
    // The background worker's payload, as TeamPass writes it.
    const worker = { task_id: 9, task_type: 'item_copy', status: 'completed', message: 'ok', item_id: 5, item_label: 'VPN', process_type: 'item_copy' };
    const task = await emit(['task_completed', '--user', String(alice.id), '--data', JSON.stringify(worker)]);
    expect(await a.next((f) => f.type === 'event' && f.event === 'task_completed', 10_000)).to.deep.include({ event_id: task.id });
    const notice = await emit(['system_maintenance', 'message=Upgrade at 22:00']);
    for (const c of [a, b]) {
      const frame = await c.next((f) => f.type === 'event' && f.event === 'system_maintenance', 10_000);
      expect(frame).to.deep.include({ event_id: notice.id });
      expect(frame.data).to.include({ message: 'Upgrade at 22:00' });
    }
    expect(await b.none((f) => f.type === 'event' && f.event === 'task_completed', 500)).to.equal(true);
  });

  it("sends a folder event to the parent folder's subscribers, as TeamPass does", async function () {
    this.timeout(60_000);
    const a = await client(alice);
    expect(await a.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } })).to.include({ action: 'subscribed' });
    const child = await addFolder(db, { parentId: folder, title: 'Child' });
    const out = await emit(['folder_updated', `folder_id=${child}`, 'title=Renamed', `parent_id=${folder}`, `updated_by=${bob.id}`]);
    const frame = await a.next((f) => f.type === 'event' && f.event === 'folder_updated', 10_000);
    expect(frame).to.deep.include({ event_id: out.id });
    expect(frame.data).to.include({ folder_id: child, parent_id: folder });
  });
});
