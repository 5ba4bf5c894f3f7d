import { expect } from 'chai';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { tempDir } from '../helpers/backends.js';
import { runCli } from '../helpers/cli.js';
import { launchChromium, startDaemon, type Daemon } from './browser-harness.js';

/** Where a look at the page is kept after a run (outside the repository). */
export const DEMO_SCREENSHOT = path.join(os.tmpdir(), 'teampass-ws-demo.png');

describe('the demo page in Chromium', function () {
  this.timeout(120_000);
  let cwd: string;
  let daemon: Daemon;
  let browser: Browser;
  let page: Page;

  before(async () => {
    cwd = tempDir('tpws-demo-browser-');
    browser = await launchChromium();
    daemon = await startDaemon(['--demo'], { cwd });
    await daemon.cli.waitFor(/pat\s+[a-f0-9]{64}/);
  });

  after(async () => {
    await browser?.close();
    await daemon?.cli.stop();
  });

  const folderCard = (id: number) => page.locator(`article.folder[data-folder="${id}"]`);

  it('connects as the chosen user and subscribes to exactly the folders TeamPass’s rule allows', async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${daemon.httpUrl}/demo?user=auditor`);
    await page.locator('#status[data-state="connected"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('#status').textContent()).to.equal('connected as auditor');
    expect(await page.locator('.banner').textContent()).to.match(/Demo mode: not connected to TeamPass\./);
    // Answers come from the daemon's access rule, not from the page.
    for (const id of [2, 3, 4]) await folderCard(id).locator('.sub.ok').waitFor({ timeout: 20_000 });
    for (const id of [1, 5, 6]) await folderCard(id).locator('.sub.no').waitFor({ timeout: 20_000 });
    expect(await folderCard(4).locator('.tag').textContent()).to.equal('read-only');
    expect(await folderCard(5).locator('.sub').textContent()).to.match(/refused by the server \(forbidden\)/);
  });

  it('shows an event fired with `teampass-ws emit` in the same folder', async () => {
    const r = await runCli(['emit', 'item_created', 'item_id=100', 'folder_id=4', 'label=Fired from the CLI', 'created_by=1'], { cwd });
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    const li = folderCard(4).locator('li[data-event="item_created"]');
    await li.waitFor({ timeout: 20_000 });
    expect(await li.textContent()).to.match(/item_created — Fired from the CLI#\d+ · by admin/);
    const id = Number(await li.getAttribute('data-event-id'));
    expect(await page.locator('#last-id').textContent()).to.equal(String(id));
  });

  it('fires an event from the page and shows it live, in that folder only', async () => {
    await page.selectOption('#fire-type', 'item_created');
    await page.selectOption('#fire-folder', '3');
    await page.fill('#fire-label', 'Fired from the page');
    await page.click('#fire button[type=submit]');
    await page.locator('#fire-result', { hasText: 'written: item_created → folder 3' }).waitFor({ timeout: 20_000 });
    await folderCard(3).locator('li', { hasText: 'Fired from the page' }).waitFor({ timeout: 20_000 });
    expect(await folderCard(4).locator('li', { hasText: 'Fired from the page' }).count()).to.equal(0);
    await page.screenshot({ path: DEMO_SCREENSHOT, fullPage: true });
  });

  it('does not show another user the events of a folder that user may not see', async () => {
    const other = await browser.newPage();
    try {
      await other.goto(`${daemon.httpUrl}/demo?user=pat`);
      await other.locator('article.folder[data-folder="5"] .sub.ok').waitFor({ timeout: 20_000 });
      await other.locator('article.folder[data-folder="4"] .sub.no').waitFor({ timeout: 20_000 });
      const r = await runCli(['emit', 'item_updated', 'item_id=5', 'folder_id=5', 'label=Pat only', 'updated_by=4'], { cwd });
      expect(r.code, r.stderr).to.equal(0);
      await other.locator('article.folder[data-folder="5"] li', { hasText: 'Pat only' }).waitFor({ timeout: 20_000 });
      // The auditor's page got nothing for Pat's personal folder.
      const r2 = await runCli(['emit', 'item_updated', 'item_id=4', 'folder_id=4', 'label=Audit note', 'updated_by=1'], { cwd });
      expect(r2.code, r2.stderr).to.equal(0);
      await page.locator('li', { hasText: 'Audit note' }).waitFor({ timeout: 20_000 });
      expect(await page.locator('li', { hasText: 'Pat only' }).count()).to.equal(0);
    } finally {
      await other.close();
    }
  });

  it('says "reconnecting" on the live folder cards while the daemon is down, and stops saying it once it is back', async () => {
    const live = [2, 3, 4];
    for (const id of live) await folderCard(id).locator('.sub.ok', { hasText: 'subscribed: live' }).waitFor({ timeout: 20_000 });
    await daemon.cli.stop();
    for (const id of live) await folderCard(id).locator('.sub', { hasText: /^reconnecting/ }).waitFor({ timeout: 20_000 });
    // A refused folder stays refused: it was never live.
    expect(await folderCard(5).locator('.sub').textContent()).to.match(/^refused by the server/);

    daemon = await startDaemon(['--demo'], { cwd, port: daemon.port });
    for (const id of live) await folderCard(id).locator('.sub.ok', { hasText: 'subscribed: live' }).waitFor({ timeout: 30_000 });
    expect(await page.locator('.folders').textContent()).to.not.contain('reconnecting');
  });
});
