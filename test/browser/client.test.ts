import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import type { Database } from '../../src/db/index.js';
import { prepareDemo, type DemoInfo } from '../../src/demo/index.js';
import { forEachBackend, openTestDatabase } from '../helpers/backends.js';
import { runCli } from '../helpers/cli.js';
import { launchChromium, servePage, startDaemon, type Daemon, type PageServer } from './browser-harness.js';

/** What the test page records from the client, read back with page.evaluate. */
interface PageLog {
  events: Array<{ name: string; id: number | null; label: string | null }>;
  opens: number;
  closes: number[];
  reconnecting: number;
  reconnectingAfterStop: number;
  authFailed: { code: number; error_code: string | null; session_ended: boolean } | null;
  subscribed: number[];
  subscribeError: string | null;
}

/**
 * A page like TeamPass's: it loads the client from the daemon's /client/teampass-websocket.js,
 * connects with a websocket token and subscribes to one folder. reconnectInterval is shortened
 * so the restart test does not wait through TeamPass's 3 s first delay.
 */
function testPage(daemonHttp: string, daemonWs: string, url: URL): string {
  const config = JSON.stringify({ url: daemonWs, token: url.searchParams.get('token'), folder: Number(url.searchParams.get('folder')) });
  return `<!doctype html><html><head><meta charset="utf-8"><title>client test</title></head><body>
<script src="${daemonHttp}/client/teampass-websocket.js"></script>
<script>
  var cfg = ${config};
  var log = window.log = { events: [], opens: 0, closes: [], reconnecting: 0, reconnectingAfterStop: 0, authFailed: null, subscribed: [], subscribeError: null };
  var client = window.client = new TeamPassWebSocket({ url: cfg.url, token: cfg.token, reconnectInterval: 300 });
  client.on('*', function (name, data, meta) { if (meta) log.events.push({ name: name, id: meta.event_id, label: (data && (data.label || data.message)) || null }); });
  client.on('reconnecting', function () { log.reconnecting++; if (log.authFailed) log.reconnectingAfterStop++; });
  client.on('auth_failed', function (info) { log.authFailed = info; });
  client.onOpen(function () { log.opens++; });
  client.onClose(function (e) { log.closes.push(e.code); });
  client.connect().catch(function () {});
  client.subscribeToFolder(cfg.folder).then(function (r) { log.subscribed.push(r.folder_id); }, function (e) { log.subscribeError = e.error_code || e.message; });
</script></body></html>`;
}

async function pageLog(page: Page): Promise<PageLog> {
  return page.evaluate(() => (window as unknown as { log: PageLog }).log);
}

forEachBackend('browser client in Chromium against the daemon', (backend) => {
  let dbUrl: string;
  let db: Database;
  let demo: DemoInfo;
  let browser: Browser;
  let pages: PageServer;
  let daemon: Daemon;
  let page: Page;
  /** auditor: Applications (3) by role, Audit (4) read-only. */
  const folder = 4;

  const emit = async (...args: string[]) => {
    const r = await runCli(['emit', ...args, '--db', dbUrl]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
  };
  const labels = async () => (await pageLog(page)).events.filter((e) => e.name.startsWith('item_')).map((e) => e.label);

  before(async function () {
    this.timeout(180_000);
    dbUrl = await backend().newDatabaseUrl();
    db = await openTestDatabase(dbUrl);
    demo = await prepareDemo(db);
    browser = await launchChromium();
    let daemonRef: Daemon | undefined;
    pages = await servePage((url) => testPage(daemonRef!.httpUrl, daemonRef!.wsUrl, url));
    daemon = await startDaemon(['--db', dbUrl, '--allowed-origins', pages.origin, '--session-check-sec', '1', '--poll-interval-ms', '100']);
    daemonRef = daemon;
  });

  after(async function () {
    this.timeout(60_000);
    await browser?.close();
    await daemon?.cli.stop();
    await pages?.close();
    await db?.close();
  });

  it('connects with a token, subscribes, and receives an event emitted through the database', async function () {
    this.timeout(60_000);
    const auditor = demo.users.find((u) => u.login === 'auditor')!;
    page = await browser.newPage();
    await page.goto(`${pages.origin}/?token=${auditor.token}&folder=${folder}`);
    await page.waitForFunction(() => (window as unknown as { log: PageLog }).log.subscribed.length === 1, undefined, { timeout: 20_000 });
    expect((await pageLog(page)).opens).to.equal(1);
    await emit('item_created', 'item_id=10', `folder_id=${folder}`, 'label=first', 'created_by=1');
    await page.waitForFunction(() => (window as unknown as { log: PageLog }).log.events.length >= 1, undefined, { timeout: 20_000 });
    expect(await labels()).to.deep.equal(['first']);
  });

  it('survives a daemon restart and receives the events emitted while it was down exactly once, in order', async function () {
    this.timeout(120_000);
    const auditor = demo.users.find((u) => u.login === 'auditor')!;
    await daemon.cli.stop();
    await page.waitForFunction(() => (window as unknown as { log: PageLog }).log.closes.length >= 1, undefined, { timeout: 20_000 });
    await emit('item_updated', 'item_id=10', `folder_id=${folder}`, 'label=while-down-1', 'updated_by=1');
    // A user event between two folder events: the login replays it before the resubscribe replays the folder's.
    await emit('task_completed', '--user', String(auditor.id), 'task_id=1', 'task_type=export', 'status=completed', 'message=user-event', 'item_id=0', 'item_label=', 'process_type=export');
    await emit('item_updated', 'item_id=10', `folder_id=${folder}`, 'label=while-down-2', 'updated_by=1');
    // Another folder the user does not subscribe to: must not come back with the replay.
    await emit('item_created', 'item_id=11', 'folder_id=3', 'label=other-folder', 'created_by=1');
    daemon = await startDaemon(['--db', dbUrl, '--allowed-origins', pages.origin, '--session-check-sec', '1', '--poll-interval-ms', '100'], { port: daemon.port });
    await page.waitForFunction(() => (window as unknown as { log: PageLog }).log.events.length >= 4, undefined, { timeout: 60_000 });
    await emit('item_deleted', 'item_id=10', `folder_id=${folder}`, 'label=after-restart', 'deleted_by=1');
    await page.waitForFunction(() => (window as unknown as { log: PageLog }).log.events.length >= 5, undefined, { timeout: 20_000 });

    const log = await pageLog(page);
    expect(log.events.map((e) => e.label)).to.deep.equal(['first', 'while-down-1', 'user-event', 'while-down-2', 'after-restart']);
    const ids = log.events.map((e) => e.id!);
    expect(ids, 'ascending ids').to.deep.equal([...ids].sort((a, b) => a - b));
    expect(log.opens, 'logged in again after the restart').to.equal(2);
    expect(log.subscribed.length, 'the resubscribe is internal: the page subscribed once').to.equal(1);
    const status = (await page.evaluate(() => (window as unknown as { client: { getStatus(): Promise<{ subscriptions: string[] }> } }).client.getStatus())) as { subscriptions: string[] };
    expect(status.subscriptions).to.deep.equal([`folder:${folder}`]);
  });

  it('stops reconnecting once its TeamPass session is revoked, and says so', async function () {
    this.timeout(60_000);
    const auditor = demo.users.find((u) => u.login === 'auditor')!;
    // TeamPass clears key_tempo at logout or when an admin kicks the user.
    await db.knex(db.t.users).where({ id: auditor.id }).update({ key_tempo: '' });
    await page.waitForFunction(() => (window as unknown as { log: PageLog }).log.authFailed !== null, undefined, { timeout: 30_000 });
    const closesAtStop = (await pageLog(page)).closes.length;
    // Several backoff periods (300 ms, 450 ms, …): a client that retried would have done so by now.
    await page.waitForTimeout(2500);
    const log = await pageLog(page);
    expect(log.authFailed).to.include({ code: 4401, session_ended: true });
    expect(log.reconnectingAfterStop).to.equal(0);
    expect(log.closes.length).to.equal(closesAtStop);
    expect(log.closes.at(-1)).to.equal(4401);
    expect(await page.evaluate(() => (window as unknown as { client: { isConnectedNow(): boolean } }).client.isConnectedNow())).to.equal(false);
  });
});
