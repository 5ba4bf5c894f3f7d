import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { Database } from '../../src/db/index.js';
import { forEachBackend, openTestDatabase, tempDir } from '../helpers/backends.js';
import { runCli, startCli, type RunningCli } from '../helpers/cli.js';
import { freePort, mariaDb, type MariaDbServer } from '../helpers/mariadb.js';
import { makeTeampassInstall } from '../helpers/teampass-install.js';
import { addFolder, addItem, createTeampassDatabase, createTeampassInstalledDatabase, grantFolder, issueToken, lockItem, seedUser, tokenRow } from '../helpers/teampass-fixture.js';
import { connect, type TestWsClient } from '../helpers/ws-client.js';

const LISTENING = /teampass-ws listening on ws:\/\/127\.0\.0\.1:(\d+)/;

async function serve(args: string[], cwd?: string): Promise<{ cli: RunningCli; port: number }> {
  const port = await freePort();
  const cli = startCli(['serve', '--host', '127.0.0.1', '--port', String(port), '--session-check-sec', '1', '--poll-interval-ms', '50', ...args], { cwd });
  try {
    await cli.waitFor(LISTENING, 60_000);
  } catch (err) {
    await cli.stop();
    throw err;
  }
  return { cli, port };
}

forEachBackend('serve (the CLI as a process)', (backend) => {
  let url: string;
  let db: Database;
  let daemon: { cli: RunningCli; port: number } | undefined;
  const clients: TestWsClient[] = [];

  beforeEach(async function () {
    this.timeout(60_000);
    url = await backend().newDatabaseUrl();
    db = await createTeampassDatabase(url);
  });
  afterEach(async function () {
    this.timeout(30_000);
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
    await daemon?.cli.stop();
    daemon = undefined;
    await db.close();
  });

  it('serves TeamPass clients, delivers events, and shuts down cleanly on SIGTERM', async function () {
    this.timeout(60_000);
    const user = await seedUser(db, { login: 'alice' });
    daemon = await serve(['--db', url]);
    expect(daemon.cli.output()).to.match(/Database: .*websocket tokens reusable/);
    const client = await connect(`ws://127.0.0.1:${daemon.port}/ws?token=${await issueToken(db, user.id)}`);
    clients.push(client);
    expect(await client.next((f) => f.type === 'connected')).to.deep.include({ user_id: user.id, user_login: 'alice' });
    await db.knex(db.t.events).insert({ event_type: 'task_completed', target_type: 'user', target_id: user.id, payload: JSON.stringify({ task_id: 1, status: 'done' }) });
    const event = await client.next((f) => f.type === 'event', 10_000);
    expect(event).to.deep.include({ event: 'task_completed', data: { task_id: 1, status: 'done' } });

    const code = await daemon.cli.stop('SIGTERM');
    expect(code, daemon.cli.output()).to.equal(0);
    expect(await client.waitClose(), 'no subprotocol offered: 1000, as TeamPass\'s page expects').to.deep.equal({ code: 1000, reason: 'server shutting down' });
    const rows = (await db.knex(db.t.connections).select('disconnected_at')) as Array<{ disconnected_at: unknown }>;
    expect(rows).to.have.length(1);
    expect(rows[0].disconnected_at).to.not.equal(null);
    expect(daemon.cli.output()).to.match(/SIGTERM received, closing connections[\s\S]*teampass-ws stopped/);
    const health = await fetch(`http://127.0.0.1:${daemon.port}/healthz`).catch(() => undefined);
    expect(health, 'nothing listens any more').to.equal(undefined);
  });

  it('waits for the messages in flight on SIGTERM, then closes the database and the log, exit code 0', async function () {
    this.timeout(60_000);
    const users = [];
    for (let i = 0; i < 10; i++) users.push(await seedUser(db));
    const folder = await addFolder(db);
    for (const user of users) await grantFolder(db, user.id, folder);
    const logFile = `${tempDir('tpws-serve-log-')}/ws.log`;
    daemon = await serve(['--db', url, '--log-file', logFile, '--rate-limit-messages', '10000']);
    const open = await Promise.all(users.map(async (user) => connect(`ws://127.0.0.1:${daemon!.port}/ws?token=${await issueToken(db, user.id)}`)));
    clients.push(...open);
    await Promise.all(open.map((c) => c.next((f) => f.type === "connected"))).catch((err: Error) => { throw new Error(err.message + daemon!.cli.output()); });
    // Every client keeps the daemon busy with database work (subscribe, item view) when SIGTERM arrives.
    for (const client of open) {
      for (let i = 0; i < 200; i++) {
        client.send({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } });
        client.send({ action: 'start_item_view', data: { item_id: 424_242 } });
      }
    }
    const code = await daemon.cli.stop('SIGTERM');
    const output = daemon.cli.output();
    expect(output).to.not.match(/write after end|Unhandled|Error:/);
    expect(code, output).to.equal(0);
    const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { message: string });
    expect(lines.at(-1)?.message, 'the last log line is written after everything else').to.equal('Daemon stopped');
  });

  it('answers /healthz and /metrics on the same port, and 404 elsewhere', async function () {
    this.timeout(60_000);
    daemon = await serve(['--db', url]);
    const base = `http://127.0.0.1:${daemon.port}`;
    const health = (await (await fetch(`${base}/healthz`)).json()) as { status: string; service: string };
    expect(health).to.include({ status: 'ok', service: 'teampass-ws' });
    expect(await (await fetch(`${base}/metrics`)).text()).to.contain('teampass_ws_connections');
    expect((await fetch(`${base}/nope`)).status).to.equal(404);
  });

  it('stops on SIGINT too, exit code 0', async function () {
    this.timeout(60_000);
    daemon = await serve(['--db', url]);
    expect(await daemon.cli.stop('SIGINT')).to.equal(0);
  });

  it('refuses a database without the websocket tables, in one line that says to run migrate', async function () {
    this.timeout(60_000);
    const fresh = await backend().newDatabaseUrl();
    const bare = await openTestDatabase(fresh);
    try {
      const { createTeampassTables } = await import('../../src/db/index.js');
      await createTeampassTables(bare);
    } finally {
      await bare.close();
    }
    const r = await runCli(['serve', '--db', fresh, '--port', String(await freePort())]);
    expect(r.code).to.equal(1);
    const said = (r.stdout + r.stderr).trim().split('\n');
    expect(said, r.stdout + r.stderr).to.have.length(1);
    expect(said[0]).to.match(/teampass_websocket_events \(missing\), teampass_websocket_connections \(missing\), teampass_websocket_tokens \(missing\).*run `teampass-ws migrate` with the same database options/);
  });

  it("runs on the websocket tables as TeamPass's installer creates them, without teampass-ws's migrations table", async function () {
    this.timeout(60_000);
    const installed = await backend().newDatabaseUrl();
    const tp = await createTeampassInstalledDatabase(installed);
    try {
      expect(await tp.knex.schema.hasTable('teampass_ws_migrations')).to.equal(false);
      const user = await seedUser(tp, { login: 'alice' });
      daemon = await serve(['--db', installed]);
      const client = await connect(`ws://127.0.0.1:${daemon.port}/ws?token=${await issueToken(tp, user.id)}`);
      clients.push(client);
      expect(await client.next((f) => f.type === 'connected')).to.deep.include({ user_id: user.id });
      await tp.knex(tp.t.events).insert({ event_type: 'task_completed', target_type: 'user', target_id: user.id, payload: JSON.stringify({ task_id: 1, status: 'done' }) });
      expect(await client.next((f) => f.type === 'event', 10_000)).to.deep.include({ event: 'task_completed' });
      expect(await tp.knex.schema.hasTable('teampass_ws_migrations'), 'serve changed no schema').to.equal(false);
    } finally {
      await tp.close();
    }
  });

  it('refuses, in one line naming migrate and the column, websocket tables that lack a column it needs', async function () {
    this.timeout(60_000);
    const damaged = await backend().newDatabaseUrl();
    await (await createTeampassInstalledDatabase(damaged, ['events.processed_at', 'tokens.used'])).close();
    const r = await runCli(['serve', '--db', damaged, '--port', String(await freePort())]);
    expect(r.code).to.equal(1);
    const said = (r.stdout + r.stderr).trim().split('\n');
    expect(said, r.stdout + r.stderr).to.have.length(1);
    expect(said[0]).to.contain('teampass_websocket_events.processed_at, teampass_websocket_tokens.used');
    expect(said[0]).to.contain('run `teampass-ws migrate` with the same database options');
  });

  it('warns, naming the prefix, when the database has no TeamPass tables', async function () {
    this.timeout(60_000);
    const migrated = await runCli(['migrate', '--db', url, '--prefix', 'other_']);
    expect(migrated.code, migrated.stderr).to.equal(0);
    daemon = await serve(['--db', url, '--prefix', 'other_']);
    expect(daemon.cli.output()).to.contain('has no TeamPass table other_users: every authentication will fail.');
    expect(daemon.cli.output()).to.contain('DB_PREFIX');
  });

  it('says clearly when the port is taken', async function () {
    this.timeout(60_000);
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const r = await runCli(['serve', '--db', url, '--host', '127.0.0.1', '--port', String(port)]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain(`Port ${port} on 127.0.0.1 is already in use.`);
    } finally {
      blocker.close();
    }
  });

});

describe('serve --teampass-root (a TeamPass 3.1 install on MariaDB, the CLI as a process)', function () {
  this.timeout(120_000);
  let server: MariaDbServer | null;
  let url: string;
  let db: Database;
  let daemon: { cli: RunningCli; port: number } | undefined;
  const clients: TestWsClient[] = [];

  before(async function () {
    server = await mariaDb();
    // A developer machine without MariaDB; CI=true makes mariaDb() throw instead.
    if (!server) this.skip();
  });
  beforeEach(async () => {
    url = await server!.createDatabase();
    db = await createTeampassDatabase(url);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
    await daemon?.cli.stop();
    daemon = undefined;
    await db.close();
  });

  it('reads TeamPass 3.1 settings with --teampass-root and uses single-use tokens', async function () {
    const target = new URL(url);
    const root = makeTeampassInstall({
      version: '3.1',
      host: target.hostname,
      port: Number(target.port),
      user: decodeURIComponent(target.username),
      password: decodeURIComponent(target.password),
      clearPassword: true,
      database: target.pathname.slice(1),
    });
    const user = await seedUser(db);
    const token = await issueToken(db, user.id);
    daemon = await serve(['--teampass-root', root]);
    expect(daemon.cli.output()).to.match(/TeamPass 3\.1\), websocket tokens single_use/);
    const first = await connect(`ws://127.0.0.1:${daemon.port}/?token=${token}`);
    clients.push(first);
    expect((await first.next()).type).to.equal('connected');
    expect(Number((await tokenRow(db, token))?.used)).to.equal(1);
    const second = await connect(`ws://127.0.0.1:${daemon.port}/?token=${token}`);
    clients.push(second);
    expect((await second.next()).error_code).to.equal('auth_failed');
  });
});

describe('serve with no database named (the CLI as a process)', function () {
  this.timeout(120_000);

  it('with --demo, uses the embedded demo database and says loudly that it is not TeamPass', async () => {
    const cwd = tempDir('tpws-serve-embedded-');
    const { cli, port } = await serve(['--demo'], cwd);
    try {
      expect(cli.output()).to.match(/NOT CONNECTED TO TEAMPASS/);
      expect(cli.output()).to.contain('teampass-ws-demo.sqlite');
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).to.equal(200);
    } finally {
      expect(await cli.stop()).to.equal(0);
    }
  });
});

describe('serve shutdown with a message stuck on a MariaDB row lock (the CLI as a process)', function () {
  this.timeout(120_000);
  let url: string;
  let db: Database;
  let running: { cli: RunningCli; port: number } | undefined;
  const clients: TestWsClient[] = [];

  before(async function () {
    const server = await mariaDb();
    // A developer machine without MariaDB; CI=true makes mariaDb() throw instead.
    if (!server) this.skip();
    url = await server.createDatabase();
    db = await createTeampassDatabase(url);
  });
  after(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
    await running?.cli.stop();
    await db?.close();
  });

  it('on SIGTERM, a message stuck on a database lock is answered or given up before the log closes, exit code 0', async function () {
    const user = await seedUser(db);
    const folder = await addFolder(db);
    const item = await addItem(db, { folderId: folder });
    await lockItem(db, { itemId: item, userId: user.id });
    const logFile = `${tempDir('tpws-serve-log-')}/ws.log`;
    const daemon = await serve(['--db', url, '--log-file', logFile]);
    running = daemon;
    const client = await connect(`ws://127.0.0.1:${daemon.port}/ws?token=${await issueToken(db, user.id)}`);
    clients.push(client);
    await client.next((f) => f.type === 'connected');
    const holder = await openTestDatabase(url);
    const trx = await holder.knex.transaction();
    try {
      // The renewal's UPDATE waits on this row lock while the daemon is told to stop.
      await trx(holder.t.itemsEdition).where({ item_id: item }).forUpdate().select('item_id');
      client.send({ action: 'renew_item_lock', data: { item_id: item } });
      await new Promise((r) => setTimeout(r, 300));
      const stopping = daemon.cli.stop('SIGTERM');
      await new Promise((r) => setTimeout(r, 1000));
      await trx.commit();
      const code = await stopping;
      const output = daemon.cli.output();
      expect(output).to.not.match(/write after end|Unhandled/);
      expect(code, output).to.equal(0);
      const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { message: string });
      expect(lines.at(-1)?.message).to.equal('Daemon stopped');
    } finally {
      if (!trx.isCompleted()) await trx.rollback();
      await holder.close();
    }
  });
});
