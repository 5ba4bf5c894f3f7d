import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/backends.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { freePort } from '../helpers/mariadb.js';

/** One "✖ …" line, then at most its "→ fix" line, both on standard error; never a stack trace. */
function expectOneLineError(r: CliResult, message: RegExp, fix: RegExp): void {
  expect(r.code, r.stdout + r.stderr).to.equal(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).to.have.length(2);
  expect(lines[0]).to.match(/^✖ /).and.to.match(message);
  expect(lines[1]).to.match(/^\s+→ /).and.to.match(fix);
  expect(r.stderr).to.not.match(/^\s+at /m);
}

describe('one-line errors (the CLI as a process)', function () {
  this.timeout(60_000);
  let dir: string;
  let db: string;

  beforeEach(() => {
    dir = tempDir('tpws-errors-');
    db = `sqlite:${path.join(dir, 'ws.sqlite')}`;
  });

  const serve = async (logFile: string) => runCli(['serve', '--db', db, '--port', String(await freePort()), '--log-file', logFile], { cwd: dir });

  it('serve: a log folder that cannot be created because a part of it is a file', async () => {
    writeFileSync(path.join(dir, 'afile'), '');
    expectOneLineError(await serve(path.join(dir, 'afile', 'logs', 'ws.log')), /Cannot create the log folder .*afile\/logs: a part of the path is a file/, /--log-file/);
  });

  it('serve: a log path that is a folder is refused, not run without a log', async () => {
    mkdirSync(path.join(dir, 'logs'));
    expectOneLineError(await serve(path.join(dir, 'logs')), /log_file .*\/logs is a folder, not a file/, /--log-file .*\/logs\/teampass-ws\.log/);
  });

  it('serve: a log under /proc or /sys is refused before anything is created there', async () => {
    expectOneLineError(await serve('/proc/self/teampass-ws/ws.log'), /is under \/proc, a kernel interface/, /log_file/);
    expectOneLineError(await serve('/sys/kernel/teampass-ws.log'), /is under \/sys, a kernel interface/, /log_file/);
  });

  it('a malformed percent escape in --db', async () => {
    const r = await runCli(['migrate', '--db', 'mysql://tp:50%off@127.0.0.1/teampass'], { cwd: dir });
    expectOneLineError(r, /The database URL from flag --db has a malformed percent escape/, /%25/);
    expect(r.stderr, 'no password in the error').to.not.contain('50%off');
  });

  it('tail-logs on a folder', async () => {
    expectOneLineError(await runCli(['tail-logs', dir], { cwd: dir }), /is a folder, not a log file/, /tail-logs/);
  });

  it('check: the right fix for a log path that is a folder', async () => {
    mkdirSync(path.join(dir, 'logs'));
    const r = await runCli(['check', '--db', db, '--log-file', path.join(dir, 'logs'), '--json'], { cwd: dir });
    const report = JSON.parse(r.stdout) as { checks: Array<{ id: string; status: string; detail: string; fix?: string }> };
    const log = report.checks.find((c) => c.id === 'log');
    expect(log?.status).to.equal('error');
    expect(log?.detail).to.match(/is a folder, not a file/);
    expect(log?.fix).to.contain(path.join(dir, 'logs', 'teampass-ws.log'));
  });
});
