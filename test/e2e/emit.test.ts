import { expect } from 'chai';
import dgram from 'node:dgram';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTeampassTables, setTeampassSetting, type Database } from '../../src/db/index.js';
import { Migrator } from '../../migrations/migrator.js';
import { cleanupTempDirs, forEachBackend, openTestDatabase, tempDir } from '../helpers/backends.js';
import { runCli } from '../helpers/cli.js';

interface StoredEvent {
  id: number;
  event_type: string;
  target_type: string;
  target_id: number | null;
  payload: Record<string, unknown>;
  processed: number;
}

async function events(db: Database): Promise<StoredEvent[]> {
  const rows = (await db.knex(db.t.events).select('id', 'event_type', 'target_type', 'target_id', 'payload', 'processed').orderBy('id')) as Array<
    Omit<StoredEvent, 'payload'> & { payload: unknown }
  >;
  // mysql2 returns JSON columns parsed, SQLite returns the text.
  return rows.map((r) => ({ ...r, payload: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Record<string, unknown> }));
}

/** A UDP socket standing where the daemon's wake_port listener would. */
async function udpListener(): Promise<{ port: number; next(): Promise<string>; close(): void }> {
  const socket = dgram.createSocket('udp4');
  const received: string[] = [];
  const waiters: Array<(m: string) => void> = [];
  socket.on('message', (msg) => {
    const waiter = waiters.shift();
    if (waiter) waiter(msg.toString());
    else received.push(msg.toString());
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: socket.address().port,
    next: () => (received.length ? Promise.resolve(received.shift()!) : new Promise((resolve) => waiters.push(resolve))),
    close: () => socket.close(),
  };
}

forEachBackend('emit', (backend) => {
  let url: string;
  let db: Database;

  beforeEach(async () => {
    url = await backend().newDatabaseUrl();
    db = await openTestDatabase(url);
    await createTeampassTables(db);
    await new Migrator(db).latest();
    await setTeampassSetting(db, 'websocket_enabled', '1');
  });
  afterEach(async () => {
    await db.close();
  });
  after(cleanupTempDirs);

  it("writes one row as TeamPass's producer does, target inferred from the payload", async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await runCli(['emit', 'item_created', 'item_id=12', 'folder_id=3', 'label=VPN router', 'created_by=1', '--exclude-user', '1', '--db', url]);
    expect(r.code, r.stderr).to.equal(0);
    const rows = await events(db);
    expect(rows).to.have.length(1);
    const [row] = rows;
    expect(r.stdout).to.contain(`Event ${row.id} written: item_created → folder 3`);
    expect(r.stderr, 'websocket_enabled is on: no warning').to.equal('');
    expect(row).to.include({ event_type: 'item_created', target_type: 'folder', target_id: 3 });
    expect(Number(row.processed)).to.equal(0);
    const { server_timestamp: ts, ...rest } = row.payload;
    expect(rest).to.deep.equal({ item_id: 12, folder_id: 3, label: 'VPN router', created_by: 1, exclude_user_id: 1 });
    expect(ts).to.be.a('number').within(before, Math.floor(Date.now() / 1000));
  });

  it('takes --data, --data-file and explicit targets, and prints the ids with --json', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'payload.json'), JSON.stringify({ source: 'direct_grant' }));
    const fromFile = await runCli(['emit', 'folder_permission_changed', '--user', '7', '--data-file', 'payload.json', '--db', url, '--json'], { cwd: dir });
    expect(fromFile.code, fromFile.stderr).to.equal(0);
    const out = JSON.parse(fromFile.stdout) as { id: number; ids: number[]; rows: unknown[]; target_source: string; websocket_enabled: string };
    expect(out.target_source).to.equal('flag');
    expect(out.websocket_enabled).to.equal('1');

    const kb = await runCli(['emit', 'kb_updated', '--data', '{"kb_id": 4, "label": "How to", "updated_by": 2}', '--db', url, '--json']);
    expect(kb.code, kb.stderr).to.equal(0);
    const moved = await runCli(['emit', 'item_moved', 'item_id=1', 'from_folder_id=3', 'to_folder_id=4', 'label=x', 'moved_by=2', '--db', url, '--json']);
    expect(moved.code, moved.stderr).to.equal(0);
    const custom = await runCli(['emit', 'my_event', 'note=hello', 'list:=[1,2]', '--broadcast', '--force', '--db', url]);
    expect(custom.code, custom.stderr).to.equal(0);

    const rows = await events(db);
    expect(rows.map((r) => [r.event_type, r.target_type, r.target_id])).to.deep.equal([
      ['folder_permission_changed', 'user', 7],
      ['kb_updated', 'kb', null],
      ['item_moved', 'folder', 3],
      ['item_moved', 'folder', 4],
      ['my_event', 'broadcast', null],
    ]);
    expect(out.id).to.equal(rows[0].id);
    expect((JSON.parse(moved.stdout) as { ids: number[] }).ids).to.deep.equal([rows[2].id, rows[3].id]);
    expect(rows[4].payload).to.include({ note: 'hello' });
    expect(rows[4].payload.list).to.deep.equal([1, 2]);
  });

  it("follows TeamPass's producers: folder events to the parent, the worker's task_completed, task_progress without a producer", async function () {
    // One CLI process per case.
    this.timeout(120_000);
    const ok = async (args: string[]) => {
      const r = await runCli(['emit', ...args, '--db', url]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
      return r;
    };
    await ok(['folder_created', 'folder_id=9', 'title=Child', 'parent_id=4', 'created_by=1']);
    await ok(['folder_updated', 'folder_id=9', 'title=Renamed', 'parent_id=4', 'updated_by=1']);
    await ok(['folder_deleted', 'folder_id=9', 'title=Renamed', 'parent_id=4', 'deleted_by=1']);
    const root = await ok(['folder_created', 'folder_id=10', 'title=Top', 'parent_id=0', 'created_by=1', '--force']);
    expect(root.stderr).to.match(/folder 0, which no daemon delivers/);
    const worker = { task_id: 31, task_type: 'item_copy', status: 'completed', message: 'Copy done', item_id: 12, item_label: 'VPN', process_type: 'item_copy' };
    await ok(['task_completed', '--user', '7', '--data', JSON.stringify(worker)]);
    const progress = await ok(['task_progress', '--user', '7', 'task_id=31', 'task_type=export', 'progress=1', 'total=2', 'status=running', 'percent=50', 'message=half']);
    expect(progress.stderr).to.match(/TeamPass has no producer of task_progress/);

    const rows = await events(db);
    expect(rows.map((r) => [r.event_type, r.target_type, r.target_id])).to.deep.equal([
      ['folder_created', 'folder', 4],
      ['folder_updated', 'folder', 4],
      ['folder_deleted', 'folder', 4],
      ['folder_created', 'folder', 0],
      ['task_completed', 'user', 7],
      ['task_progress', 'user', 7],
    ]);
    expect(rows[4].payload).to.include(worker);
  });

  it('writes nothing on bad input, and says what to do', async function () {
    // One CLI process per case.
    this.timeout(120_000);
    const bad: Array<[string[], RegExp, number]> = [
      [['item_created', '--data', '{"item_id": 1,'], /--data is not valid JSON/, 1],
      [['item_created', '--data', '[1,2]'], /must be one JSON object/, 1],
      [['folder_permission_changed', 'source=direct_grant'], /No target for folder_permission_changed/, 1],
      [['item_created', 'item_id=1', 'folder_id=3', 'label=x', 'created_by=1', '--folder', 'three'], /--folder needs a numeric id/, 1],
      [['task_progress', '--user', '1.5', '--force'], /--user needs a numeric id/, 1],
      [['item_created', 'item_id=1', 'folder_id=3'], /item_created is incomplete: missing label, created_by/, 1],
      [['item_renamed', 'item_id=1', '--folder', '3'], /"item_renamed" is not an event TeamPass writes/, 1],
      [['system_maintenance', 'message=x', '--folder', '3', '--broadcast'], /one target/, 2],
      [['system_maintenance', 'message'], /not a key=value pair/, 1],
      [['system_maintenance', '--data-file', 'nowhere.json'], /Cannot read --data-file/, 1],
      [['system_maintenance', 'message=x', '--wait', '--timeout', 'soon'], /--timeout needs a number/, 2],
      [['folder_created', 'folder_id=9', 'title=Top', 'parent_id=0', 'created_by=1'], /root-level folder.*folder 0, which no daemon delivers/, 1],
      [['item_created', 'item_id=abc', 'folder_id=3', 'label=x', 'created_by=1'], /item_id of item_created must be a numeric id, not "abc"/, 1],
      [['item_created', 'item_id=1', 'folder_id=3', 'label:=[1]', 'created_by=1'], /label of item_created must be text, not \[1\]/, 1],
      [['security_nudge', '--user', '2', 'breached=x', 'weak=0', 'reused=0', 'overdue=0', 'total=0'], /breached of security_nudge must be a count/, 1],
    ];
    for (const [args, pattern, code] of bad) {
      const r = await runCli(['emit', ...args, '--db', url]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(code);
      expect(r.stderr, args.join(' ')).to.match(pattern);
      expect(r.stderr, args.join(' ')).to.contain('→');
    }
    expect(await events(db)).to.deep.equal([]);
  });

  it("warns when --folder and the payload's folder_id differ, and --force sends a mistyped payload with a warning", async () => {
    const differ = await runCli(['emit', 'item_created', 'item_id=1', 'folder_id=3', 'label=x', 'created_by=1', '--folder', '4', '--db', url]);
    expect(differ.code, differ.stderr).to.equal(0);
    expect(differ.stderr).to.match(/--folder 4 sends it to folder 4, but the payload's folder_id is 3/);
    const same = await runCli(['emit', 'item_created', 'item_id=1', 'folder_id=3', 'label=x', 'created_by=1', '--folder', '3', '--db', url]);
    expect(same.code, same.stderr).to.equal(0);
    expect(same.stderr).to.equal('');
    const forced = await runCli(['emit', 'item_created', 'item_id=abc', 'folder_id=3', 'label=x', 'created_by=1', '--force', '--db', url]);
    expect(forced.code, forced.stderr).to.equal(0);
    expect(forced.stderr).to.match(/item_id "abc" is not a numeric id; sent anyway because of --force/);
    expect((await events(db)).map((e) => e.target_id)).to.deep.equal([4, 3, 3]);
  });

  it("warns when TeamPass's websocket_enabled is off, and still writes", async () => {
    await setTeampassSetting(db, 'websocket_enabled', '0');
    const r = await runCli(['emit', 'system_maintenance', 'message=Upgrade at 22:00', '--db', url]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.contain("websocket_enabled is '0'");
    expect(await events(db)).to.have.length(1);
  });

  it('sends the wake-up datagram after the row is committed', async () => {
    const listener = await udpListener();
    try {
      const run = runCli(['emit', 'system_maintenance', 'message=now', '--db', url, '--wake-port', String(listener.port)]);
      const datagram = await listener.next();
      // What the daemon does on a wake-up: read the table. The row must already be there.
      const rows = await events(db);
      expect(datagram).to.equal('teampass-ws:wake');
      expect(rows.map((r) => r.event_type)).to.deep.equal(['system_maintenance']);
      const r = await run;
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.contain(`wake-up datagram sent to 127.0.0.1:${listener.port}`);
    } finally {
      listener.close();
    }
  });

  it('--wait fails after its timeout when no daemon processes the event', async () => {
    const r = await runCli(['emit', 'system_maintenance', 'message=x', '--wait', '--timeout', '0.5', '--db', url]);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.match(/Event \d+ written/);
    expect(r.stderr).to.match(/not processed within 0\.5 s/);
    expect(r.stderr).to.contain('Is a daemon running');
  });

  it('refuses a database without the websocket tables', async () => {
    const empty = await backend().newDatabaseUrl();
    const r = await runCli(['emit', 'system_maintenance', 'message=x', '--db', empty]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/has no teampass_websocket_events table/);
    expect(r.stderr).to.contain('teampass-ws migrate');
  });
});

describe('emit without a configured database', () => {
  after(cleanupTempDirs);

  it('uses the demo database of the current folder, and says so', async () => {
    const dir = tempDir();
    const missing = await runCli(['emit', 'system_maintenance', 'message=x'], { cwd: dir });
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('there is no demo database');
    expect(existsSync(path.join(dir, 'teampass-ws-demo.sqlite')), 'no empty database left behind').to.equal(false);

    expect((await runCli(['migrate', '--db', 'sqlite:teampass-ws-demo.sqlite'], { cwd: dir })).code).to.equal(0);
    const r = await runCli(['emit', 'system_maintenance', 'message=x'], { cwd: dir });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.contain('embedded demo database');
    expect(r.stderr).to.contain('not connected to TeamPass');
    const db = await openTestDatabase(`sqlite:${path.join(dir, 'teampass-ws-demo.sqlite')}`);
    try {
      expect((await events(db)).map((e) => e.event_type)).to.deep.equal(['system_maintenance']);
    } finally {
      await db.close();
    }
  });
});
