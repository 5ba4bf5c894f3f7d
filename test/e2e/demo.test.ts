import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Database } from '../../src/db/index.js';
import { startDaemon, type Daemon } from '../browser/browser-harness.js';
import { openTestDatabase, tempDir } from '../helpers/backends.js';
import { ROOT, runCli, startCliOnTerminal } from '../helpers/cli.js';
import { freePort } from '../helpers/mariadb.js';

interface Banner {
  demoUrl: string;
  tokens: Record<string, string>;
}

/** Reads the demo URL and the per-user tokens `serve --demo` prints. */
function readBanner(output: string): Banner {
  const demoUrl = /Demo page: (http:\/\/\S+\/demo)/.exec(output)?.[1] ?? '';
  const tokens: Record<string, string> = {};
  for (const m of output.matchAll(/^\s+(admin|manager|auditor|pat)\s+([a-f0-9]{64})\b/gm)) tokens[m[1]] = m[2];
  return { demoUrl, tokens };
}

async function postEmit(daemon: Daemon, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${daemon.httpUrl}/demo/emit`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('serve --demo (the CLI as a process)', function () {
  this.timeout(120_000);
  let cwd: string;
  let daemon: Daemon | undefined;

  beforeEach(() => {
    cwd = tempDir('tpws-demo-');
  });

  afterEach(async () => {
    await daemon?.cli.stop();
    daemon = undefined;
  });

  it('prepares the embedded database, says loudly it is not TeamPass, and prints the page and a token per user', async () => {
    daemon = await startDaemon(['--demo'], { cwd });
    await daemon.cli.waitFor(/pat\s+[a-f0-9]{64}/);
    const out = daemon.cli.output();
    expect(out).to.match(/DEMO MODE: NOT CONNECTED TO TEAMPASS/);
    const banner = readBanner(out);
    expect(banner.demoUrl).to.equal(`${daemon.httpUrl}/demo`);
    expect(Object.keys(banner.tokens)).to.deep.equal(['admin', 'manager', 'auditor', 'pat']);
    expect(existsSync(path.join(cwd, 'teampass-ws-demo.sqlite'))).to.equal(true);

    const page = await fetch(banner.demoUrl);
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-type')).to.match(/^text\/html/);
    const html = await page.text();
    expect(html).to.include('Demo mode: not connected to TeamPass.');
    expect(html).to.include('<script src="/client/teampass-websocket.js"></script>');

    const script = await fetch(`${daemon.httpUrl}/client/teampass-websocket.js`);
    expect(script.status).to.equal(200);
    expect(script.headers.get('content-type')).to.match(/^application\/javascript/);
    expect(await script.text()).to.equal(readFileSync(path.join(ROOT, 'dist/client/teampass-websocket.js'), 'utf8'));
  });

  it('writes the events fired from the page as TeamPass’s producer does, and refuses bad requests clearly', async () => {
    daemon = await startDaemon(['--demo'], { cwd });
    await daemon.cli.waitFor(/pat\s+[a-f0-9]{64}/);
    const { tokens } = readBanner(daemon.cli.output());

    const ok = await postEmit(daemon, { token: tokens.auditor, event_type: 'item_created', folder_id: 3, label: 'Staging DB', exclude_self: true });
    expect(ok.status, JSON.stringify(ok.json)).to.equal(200);
    expect(ok.json).to.include({ event_type: 'item_created', target: 'folder 3' });
    const db: Database = await openTestDatabase(`sqlite:${path.join(cwd, 'teampass-ws-demo.sqlite')}`);
    try {
      const row = (await db.knex(db.t.events).where({ id: (ok.json.ids as number[])[0] }).first()) as { event_type: string; target_type: string; target_id: number; payload: string };
      expect(row).to.include({ event_type: 'item_created', target_type: 'folder', target_id: 3 });
      const payload = JSON.parse(row.payload) as Record<string, unknown>;
      expect(payload).to.include({ folder_id: 3, label: 'Staging DB', created_by: 3, exclude_user_id: 3 });
      expect(payload.server_timestamp).to.be.a('number');
      const item = (await db.knex(db.t.items).where({ id: payload.item_id as number }).first()) as { label: string; id_tree: number };
      expect(item).to.include({ label: 'Staging DB', id_tree: 3 });
    } finally {
      await db.close();
    }

    expect((await postEmit(daemon, { token: 'f'.repeat(64), event_type: 'item_created', folder_id: 3 })).status).to.equal(403);
    const badType = await postEmit(daemon, { token: tokens.auditor, event_type: 'drop_tables' });
    expect(badType.status).to.equal(400);
    expect(badType.json.error).to.match(/event_type must be one of/);
    const badFolder = await postEmit(daemon, { token: tokens.auditor, event_type: 'item_created', folder_id: 99 });
    expect(badFolder.status).to.equal(400);
    expect(badFolder.json.suggestion).to.match(/Use one of 1, 2, 3, 4, 5, 6/);
    expect((await postEmit(daemon, '{not json')).status).to.equal(400);
    expect((await postEmit(daemon, { token: tokens.auditor, event_type: 'item_created', folder_id: 3, label: 'x'.repeat(9000) })).status).to.equal(413);
    const get = await fetch(`${daemon.httpUrl}/demo/emit`);
    expect(get.status).to.equal(405);
    expect(get.headers.get('allow')).to.equal('POST');
  });

  it('runs the same demo for a bare serve at a terminal, and keeps the dataset across restarts', async () => {
    const port = await freePort();
    const cli = startCliOnTerminal(['serve', '--host', '127.0.0.1', '--port', String(port)], { cwd });
    daemon = { port, cli, httpUrl: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/ws` };
    await daemon.cli.waitFor(/pat\s+[a-f0-9]{64}/);
    const first = readBanner(daemon.cli.output());
    expect(daemon.cli.output()).to.match(/DEMO MODE: NOT CONNECTED TO TEAMPASS/);
    expect((await fetch(first.demoUrl)).status).to.equal(200);
    await daemon.cli.stop();

    daemon = await startDaemon(['--demo'], { cwd });
    await daemon.cli.waitFor(/pat\s+[a-f0-9]{64}/);
    const second = readBanner(daemon.cli.output());
    expect(second.tokens.admin).to.not.equal(first.tokens.admin);
    const db = await openTestDatabase(`sqlite:${path.join(cwd, 'teampass-ws-demo.sqlite')}`);
    try {
      const users = (await db.knex(db.t.users).count({ n: '*' }).first()) as { n: number };
      expect(Number(users.n)).to.equal(4);
    } finally {
      await db.close();
    }
  });

  it('serves the client script but no demo page when it serves a named database', async () => {
    const dbUrl = `sqlite:${path.join(cwd, 'named.sqlite')}`;
    const migrated = await runCli(['migrate', '--db', dbUrl]);
    expect(migrated.code, migrated.stderr).to.equal(0);
    daemon = await startDaemon(['--db', dbUrl], { cwd });
    expect(daemon.cli.output()).to.not.match(/DEMO MODE/);
    expect((await fetch(`${daemon.httpUrl}/demo`)).status).to.equal(404);
    expect((await fetch(`${daemon.httpUrl}/demo/emit`, { method: 'POST', body: '{}' })).status).to.equal(404);
    expect((await fetch(`${daemon.httpUrl}/client/teampass-websocket.js`)).status).to.equal(200);
  });

  it('refuses --demo on a database that holds real TeamPass users', async () => {
    const dbUrl = `sqlite:${path.join(cwd, 'teampass.sqlite')}`;
    const db = await openTestDatabase(dbUrl);
    try {
      await db.knex.schema.createTable(db.t.users, (t) => {
        t.increments('id');
        t.string('login', 500);
      });
      await db.knex(db.t.users).insert({ login: 'real.person' });
    } finally {
      await db.close();
    }
    const r = await runCli(['serve', '--demo', '--db', dbUrl, '--port', String(await freePort())], { cwd });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/already holds 1 TeamPass user\(s\): demo mode only runs on the embedded database or an empty one/);
    expect(r.stdout + r.stderr).to.match(/without --demo/);
  });
});
