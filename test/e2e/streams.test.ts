import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tempDir } from '../helpers/backends.js';
import { runCli, startCli, type RunningCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mariadb.js';

const LISTENING = /teampass-ws listening on ws:\/\/127\.0\.0\.1:(\d+)/;

describe('standard output and standard error (the CLI as a process)', function () {
  this.timeout(60_000);
  let dir: string;
  let db: string;
  let daemon: RunningCli | undefined;

  beforeEach(async () => {
    dir = tempDir('tpws-streams-');
    db = `sqlite:${path.join(dir, 'ws.sqlite')}`;
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });

  it('with --json, an error is one JSON object on standard output, with the same exit code', async () => {
    const r = await runCli(['migrate', '--db', 'mysql://tp:50%off@127.0.0.1/teampass', '--json'], { cwd: dir });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal('');
    const body = JSON.parse(r.stdout) as { error: { code: string; message: string; suggestion: string } };
    expect(body.error.code).to.equal('DB_URL');
    expect(body.error.message).to.match(/malformed percent escape/);
    expect(body.error.suggestion).to.contain('%25');

    const usage = await runCli(['emit', '--json'], { cwd: dir });
    expect(usage.code).to.equal(2);
    expect(usage.stderr).to.equal('');
    expect((JSON.parse(usage.stdout) as { error: { code: string; message: string } }).error).to.include({ code: 'USAGE' }).and.to.have.property('message').that.matches(/event_type/);
  });

  it('serve: human lines on standard error, JSON log lines only in the log file', async () => {
    expect((await runCli(['migrate', '--db', db], { cwd: dir })).code).to.equal(0);
    const log = path.join(dir, 'ws.log');
    daemon = startCli(['serve', '--db', db, '--port', String(await freePort()), '--log-file', log], { cwd: dir });
    await daemon.waitFor(LISTENING);
    expect(await daemon.stop()).to.equal(0);
    expect(daemon.stdout(), 'nothing on standard output').to.equal('');
    expect(readFileSync(log, 'utf8')).to.match(/"message":"Daemon listening"/);
  });

  it('serve --log-stdout: the JSON log lines on standard output too', async () => {
    expect((await runCli(['migrate', '--db', db], { cwd: dir })).code).to.equal(0);
    daemon = startCli(['serve', '--db', db, '--port', String(await freePort()), '--log-stdout'], { cwd: dir });
    await daemon.waitFor(LISTENING);
    await daemon.waitFor(/"message":"Daemon listening"/);
    expect(await daemon.stop()).to.equal(0);
    const lines = daemon.stdout().trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line), line).to.not.throw();
  });

  it('serve: a port in use is said before anything is logged', async () => {
    const port = await freePort();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const log = path.join(dir, 'ws.log');
      const r = await runCli(['serve', '--db', db, '--host', '127.0.0.1', '--port', String(port), '--log-file', log], { cwd: dir });
      expect(r.code).to.equal(1);
      expect(r.stderr.split('\n')[0]).to.equal(`✖ Port ${port} on 127.0.0.1 is already in use.`);
      expect(r.stdout).to.equal('');
      expect(existsSync(log) ? readFileSync(log, 'utf8') : '', 'nothing logged').to.equal('');
    } finally {
      blocker.close();
    }
  });
});

