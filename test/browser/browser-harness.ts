import { once } from 'node:events';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { startCli, type RunningCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mariadb.js';

/** Debian's Chromium; the tests never download a browser. */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless Chromium with a fresh temporary profile (playwright creates and removes it). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (.ci/run does).`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}

export interface Daemon {
  readonly port: number;
  readonly cli: RunningCli;
  /** http://127.0.0.1:PORT */
  readonly httpUrl: string;
  readonly wsUrl: string;
}

/** Runs `teampass-ws serve <args>` on `port` (a free one when absent) and waits until it listens. */
export async function startDaemon(args: string[], options: { port?: number; cwd?: string } = {}): Promise<Daemon> {
  const port = options.port ?? (await freePort());
  const cli = startCli(['serve', '--host', '127.0.0.1', '--port', String(port), ...args], { cwd: options.cwd });
  try {
    await cli.waitFor(/teampass-ws listening on ws:\/\/127\.0\.0\.1:\d+/, 60_000);
  } catch (err) {
    await cli.stop();
    throw err;
  }
  return { port, cli, httpUrl: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/ws` };
}

export interface PageServer {
  readonly origin: string;
  close(): Promise<void>;
}

/** A tiny web server for a test page, as TeamPass's own pages would be served beside the daemon. */
export async function servePage(html: (url: URL) => string): Promise<PageServer> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/') {
      res.writeHead(404).end();
      return;
    }
    const body = html(url);
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
