import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { WAKE_MESSAGE } from '../../src/ops/wake.js';
import { cleanupTempDirs, tempDir } from '../helpers/backends.js';
import { ROOT } from '../helpers/cli.js';
import { freePort } from '../helpers/mariadb.js';
import { waitFor } from '../helpers/wait.js';

const WAKE_SCRIPT = path.join(ROOT, 'templates', 'teampass-ws-wake.php');

/** Where the daemon's wake_port listener would be: records every datagram in order. */
async function listener(): Promise<{ port: number; received: string[]; until(pattern: string): Promise<void>; close(): void }> {
  const socket = dgram.createSocket('udp4');
  const received: string[] = [];
  socket.on('message', (msg) => received.push(msg.toString()));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const until = async (text: string): Promise<void> => {
    await waitFor(() => received.includes(text), () => `a datagram "${text}"; got ${JSON.stringify(received)}`);
  };
  return { port: socket.address().port, received, until, close: () => socket.close() };
}

describe("PHP wake-up script (templates/teampass-ws-wake.php) with PHP's own interpreter", () => {
  let server: ChildProcess | undefined;
  after(cleanupTempDirs);
  afterEach(() => {
    server?.kill();
    server = undefined;
  });

  it('sends the datagram the daemon listens for when called after emitWebSocketEvent', async () => {
    const udp = await listener();
    try {
      const script = `define('TEAMPASS_WS_WAKE_PORT', ${udp.port}); require ${JSON.stringify(WAKE_SCRIPT)}; exit(teampassWsWake() ? 0 : 1);`;
      const r = spawnSync('php', ['-r', script], { encoding: 'utf8' });
      expect(r.error, 'php-cli is needed for this test').to.equal(undefined);
      expect(r.status, r.stderr + r.stdout).to.equal(0);
      expect(r.stdout, 'nothing printed into TeamPass pages').to.equal('');
      await udp.until(WAKE_MESSAGE);
      expect(udp.received).to.deep.equal([WAKE_MESSAGE]);
      const off = spawnSync('php', ['-r', `define('TEAMPASS_WS_WAKE_PORT', 0); require ${JSON.stringify(WAKE_SCRIPT)}; exit(teampassWsWake() ? 1 : 0);`], { encoding: 'utf8' });
      expect(off.status, 'port 0 turns it off').to.equal(0);
    } finally {
      udp.close();
    }
  });

  it('included for every request, wakes once per POST and never on GET', async function () {
    this.timeout(30_000);
    const udp = await listener();
    const docroot = tempDir();
    writeFileSync(path.join(docroot, 'items.queries.php'), '<?php echo "done";\n');
    const port = await freePort();
    server = spawn('php', ['-S', `127.0.0.1:${port}`, '-t', docroot, '-d', `auto_prepend_file=${WAKE_SCRIPT}`], {
      env: { ...process.env, TEAMPASS_WS_WAKE_PORT: String(udp.port) },
      stdio: 'ignore',
    });
    try {
      const url = `http://127.0.0.1:${port}/items.queries.php`;
      await waitFor(() => fetch(url).then(() => true, () => false), `php -S answers on ${url}`, 15_000, 100);
      const get = await fetch(url);
      expect(await get.text()).to.equal('done');
      const post = await fetch(url, { method: 'POST', body: 'type=new_item' });
      expect(await post.text(), 'the page is untouched').to.equal('done');
      await udp.until(WAKE_MESSAGE);
      // A marker sent afterwards: once it is in, anything the earlier GETs sent would be in too.
      const marker = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => marker.send('marker', udp.port, '127.0.0.1', () => resolve()));
      marker.close();
      await udp.until('marker');
      expect(udp.received, 'one datagram, from the POST').to.deep.equal([WAKE_MESSAGE, 'marker']);
    } finally {
      udp.close();
    }
  });
});
