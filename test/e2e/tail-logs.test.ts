import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { appendFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../src/log/index.js';
import { cleanupTempDirs, tempDir } from '../helpers/backends.js';
import { BIN, cliEnv, runCli, startCli, type RunningCli } from '../helpers/cli.js';

const jsonLine = (level: string, message: string, meta: Record<string, unknown> = {}) =>
  `${JSON.stringify({ level, message, timestamp: new Date().toISOString(), ...meta })}\n`;

describe('tail-logs', () => {
  let dir: string;
  let file: string;
  let running: RunningCli | undefined;

  beforeEach(() => {
    dir = tempDir();
    file = path.join(dir, 'teampass-ws.log');
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });
  after(cleanupTempDirs);

  it("prints the last lines of the daemon's own log, found through the configuration", async () => {
    const logger = createLogger({ level: 'debug', file });
    for (let i = 1; i <= 30; i++) logger.info(`poll ${i}`, { events: i });
    logger.warn('slow consumer closed', { user_id: 12, token: 'a'.repeat(64) });
    logger.error('database unreachable', { code: 'ECONNREFUSED' });
    await logger.close();
    writeFileSync(path.join(dir, 'teampass-ws.json'), JSON.stringify({ log_file: 'teampass-ws.log' }));

    const r = await runCli(['tail-logs'], { cwd: dir });
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).to.have.length(20);
    expect(lines[0]).to.match(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} INFO  poll 13 \{"events":13\}$/);
    expect(lines[19]).to.match(/ERROR database unreachable \{"code":"ECONNREFUSED"\}$/);
    expect(r.stdout, 'no colours when not on a terminal').not.to.contain('\u001b[');

    const warn = await runCli(['tail-logs', '--log-file', file, '-n', '5', '--level', 'warn', '--json']);
    expect(warn.code, warn.stderr).to.equal(0);
    const records = warn.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((x) => x.message)).to.deep.equal(['slow consumer closed', 'database unreachable']);
    expect(records[0].token, 'the log itself was redacted').to.equal('[redacted]');

    const user = await runCli(['tail-logs', file, '--user', '12']);
    expect(user.stdout.trimEnd().split('\n')).to.have.length(1);
    const grep = await runCli(['tail-logs', file, '--grep', 'poll (7|8)\\b', '--since', '10m']);
    expect(grep.stdout.trimEnd().split('\n').map((l) => l.replace(/^.* INFO {2}/, ''))).to.deep.equal(['poll 7 {"events":7}', 'poll 8 {"events":8}']);
  });

  it("reads TeamPass's PHP daemon log and shows malformed lines as they are", async () => {
    writeFileSync(
      file,
      [
        '[2025-03-01 14:00:00] [INFO] WebSocket server started {"host":"127.0.0.1","port":8080}',
        '[2025-03-01 14:00:05] [WARNING] Authentication failed {"ip":"10.0.0.5"}',
        'PHP Fatal error:  Uncaught Exception in /var/www/websocket/src/Foo.php:12',
        '\u0000garbage\u00ff',
        '[2025-03-01 14:00:09] [ERROR] Poll error {"error":"MySQL server has gone away"}',
        '',
      ].join('\n'),
    );
    const r = await runCli(['tail-logs', file]);
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).to.match(/^2025-03-01 14:00:00 INFO {2}WebSocket server started \{"host":"127.0.0.1","port":8080\}$/);
    expect(lines[1]).to.match(/WARN {2}Authentication failed/);
    expect(lines[2]).to.equal('PHP Fatal error:  Uncaught Exception in /var/www/websocket/src/Foo.php:12');
    expect(lines[4]).to.match(/ERROR Poll error \{"error":"MySQL server has gone away"\}$/);
    const errors = await runCli(['tail-logs', file, '--level', 'error', '--json']);
    expect(JSON.parse(errors.stdout) as Record<string, unknown>).to.deep.include({ level: 'error', message: 'Poll error', source_format: 'php' });
  });

  it('ends quietly when its reader goes away (piped into head)', async function () {
    this.timeout(60_000);
    const lines: string[] = [];
    for (let i = 0; i < 50_000; i++) lines.push(jsonLine('info', `line ${i}`).trimEnd());
    writeFileSync(file, `${lines.join('\n')}\n`);
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" tail-logs "${file}" -n 50000 | head -n 1; echo "status \${PIPESTATUS[0]}" >&2`], {
      encoding: 'utf8',
      env: cliEnv(),
    });
    expect(r.stdout).to.match(/^\S+ \S+ INFO {2}line 0\n$/);
    expect(r.stderr.trim(), 'no EPIPE stack trace, exit 0').to.equal('status 0');
  });

  it('says what to do when there is no log to read', async () => {
    const none = await runCli(['tail-logs'], { cwd: dir });
    expect(none.code).to.equal(1);
    expect(none.stderr).to.contain('No log file is configured');
    expect(none.stderr).to.contain('journalctl -u teampass-websocket');
    const missing = await runCli(['tail-logs', path.join(dir, 'nope.log')]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.match(/Cannot read the log file .*nope\.log: no such file/);
    const bad = await runCli(['tail-logs', file, '--since', 'last tuesday']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.contain('neither a duration nor a date');
    expect((await runCli(['tail-logs', file, '-n', 'many'])).code).to.equal(2);
  });

  it('follows the file across rotation (renamed and recreated) and truncation', async function () {
    this.timeout(60_000);
    writeFileSync(file, jsonLine('info', 'before 1') + jsonLine('info', 'before 2') + jsonLine('info', 'before 3'));
    running = startCli(['tail-logs', file, '-f', '-n', '2']);
    await running.waitFor(/before 3/);
    expect(running.output()).not.to.contain('before 1');
    expect(running.output()).to.contain('before 2');

    appendFileSync(file, jsonLine('warn', 'appended', { user_id: 3 }));
    await running.waitFor(/WARN {2}appended \{"user_id":3\}/);

    // A line written in two steps is printed once, whole.
    appendFileSync(file, '{"level":"info","message":"split ');
    appendFileSync(file, 'line","timestamp":"2025-01-01T00:00:00Z"}\n');
    await running.waitFor(/INFO {2}split line/);

    // logrotate's default: rename, then the daemon reopens a new file; late lines in the old one are not lost.
    renameSync(file, `${file}.1`);
    appendFileSync(`${file}.1`, jsonLine('info', 'late in the old file'));
    writeFileSync(file, jsonLine('info', 'first in the new file'));
    await running.waitFor(/first in the new file/);
    expect(running.output()).to.contain('late in the old file');
    expect(running.output()).to.contain('was rotated; following the new file');
    appendFileSync(file, jsonLine('info', 'second in the new file'));
    await running.waitFor(/second in the new file/);

    // copytruncate: same file, cut to zero, written again (shorter than before, as it is right after a cut).
    truncateSync(file, 0);
    appendFileSync(file, jsonLine('error', 'after truncation'));
    await running.waitFor(/ERROR after truncation/);
    expect(running.output()).to.contain('was truncated; reading it from the start');

    const printed = running.output().split('\n').filter((l) => /INFO|WARN|ERROR/.test(l));
    expect(printed.filter((l) => l.includes('appended')), 'no line twice').to.have.length(1);
    expect(printed.filter((l) => l.includes('first in the new file'))).to.have.length(1);
    expect(await running.stop()).to.equal(0);
    running = undefined;
  });

  it('waits for a log file that does not exist yet, and filters while following', async function () {
    this.timeout(30_000);
    running = startCli(['tail-logs', file, '-f', '--level', 'warn']);
    await running.waitFor(/does not exist \(yet\); waiting for it to appear/);
    writeFileSync(file, jsonLine('info', 'quiet') + jsonLine('error', 'loud'));
    await running.waitFor(/ERROR loud/);
    expect(running.output()).not.to.contain('quiet');
    expect(await running.stop()).to.equal(0);
    running = undefined;
  });
});
