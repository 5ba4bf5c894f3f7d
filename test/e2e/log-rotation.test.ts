import { expect } from 'chai';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/backends.js';
import { ROOT, runCli, startCli, type RunningCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mariadb.js';
import { waitFor } from '../helpers/wait.js';

const LISTENING = /teampass-ws listening on ws:\/\/127\.0\.0\.1:(\d+)/;

/** Resolves once `file` holds a line matching `pattern`. */
async function lineIn(file: string, pattern: RegExp): Promise<string> {
  const line = () => (existsSync(file) ? readFileSync(file, 'utf8') : '').split('\n').find((l) => pattern.test(l));
  return waitFor(line, `${file} holds a line matching ${pattern}`, 30_000, 50);
}

describe('serve: log rotation (the CLI as a process)', function () {
  this.timeout(60_000);
  let dir: string;
  let log: string;
  let port: number;
  let daemon: RunningCli | undefined;

  beforeEach(async () => {
    dir = tempDir('tpws-logrotate-');
    log = path.join(dir, 'logs', 'ws.log');
    const db = `sqlite:${path.join(dir, 'ws.sqlite')}`;
    expect((await runCli(['migrate', '--db', db])).code).to.equal(0);
    port = await freePort();
    daemon = undefined;
  });
  afterEach(async () => {
    await daemon?.stop();
  });

  async function serve(checkIntervalMs: number): Promise<RunningCli> {
    const cli = startCli(
      ['serve', '--db', `sqlite:${path.join(dir, 'ws.sqlite')}`, '--port', String(port), '--log-file', log, '--log-check-interval-ms', String(checkIntervalMs)],
      { cwd: dir },
    );
    await cli.waitFor(LISTENING);
    await lineIn(log, /Daemon listening/);
    return cli;
  }

  it('reopens the log on SIGHUP after logrotate moved it, and keeps running', async () => {
    daemon = await serve(0);
    renameSync(log, `${log}.1`);
    daemon.child.kill('SIGHUP');
    const reopened = JSON.parse(await lineIn(log, /Log file reopened/)) as { reason: string };
    expect(reopened.reason).to.equal('signal');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 'still serving').to.equal(200);
    expect(readFileSync(`${log}.1`, 'utf8')).to.not.contain('Log file reopened');
    expect(await daemon.stop()).to.equal(0);
    daemon = undefined;
    expect(readFileSync(log, 'utf8')).to.contain('Shutting down');
    expect(readFileSync(`${log}.1`, 'utf8')).to.not.contain('Shutting down');
  });

  it('notices by itself that the log was moved away, and writes to a new file at the same path', async () => {
    daemon = await serve(100);
    renameSync(log, `${log}.1`);
    const reopened = JSON.parse(await lineIn(log, /Log file reopened/)) as { reason: string };
    expect(reopened.reason).to.equal('moved');
    expect(await daemon.stop()).to.equal(0);
    daemon = undefined;
    expect(readFileSync(log, 'utf8')).to.contain('Shutting down');
    expect(readFileSync(`${log}.1`, 'utf8')).to.not.contain('Shutting down');
  });

  it('keeps appending at the start of a file truncated underneath (no hole of NUL bytes)', async () => {
    daemon = await serve(0);
    const { truncateSync } = await import('node:fs');
    truncateSync(log, 0);
    expect(await daemon.stop()).to.equal(0);
    daemon = undefined;
    const text = readFileSync(log, 'utf8');
    expect(text).to.not.contain('\u0000');
    expect(text.split('\n')[0]).to.match(/^\{.*\}$/);
  });
});

describe('log rotation set-up', () => {
  it('ships a logrotate file that renames the log and sends SIGHUP through systemctl, without copytruncate', () => {
    const text = readFileSync(path.join(ROOT, 'templates', 'logrotate'), 'utf8');
    const directives = text.split('\n').filter((l) => !/^\s*#/.test(l));
    expect(directives.join('\n')).to.not.match(/copytruncate/);
    expect(directives.join('\n')).to.match(/^\/var\/log\/teampass-ws\/\*\.log \{$/m);
    expect(directives.join('\n')).to.match(/postrotate\n\s+systemctl kill -s HUP teampass-websocket\.service\b.*\n\s+endscript/);
  });

  it('install-systemd tells where the logrotate file goes when the daemon logs to a file', async () => {
    const dir = tempDir('tpws-logrotate-unit-');
    const r = await runCli(['install-systemd', '--output', path.join(dir, 'teampass-websocket.service'), '--db', 'sqlite:/var/lib/teampass-ws/ws.sqlite', '--log-file', '/var/log/teampass-ws/teampass-ws.log'], { cwd: dir });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/Log rotation: .*cp .*templates\/logrotate \/etc\/logrotate\.d\/teampass-ws/);
  });
});
