import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cleanupTempDirs, tempDir } from '../helpers/backends.js';
import { BIN, ROOT, runCli } from '../helpers/cli.js';

/** `systemd-analyze verify` on a unit file: exit status and everything it complained about. */
function verify(unitFile: string): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' });
  if (r.error) throw new Error(`systemd-analyze is needed for this test (Debian package "systemd"): ${r.error.message}`);
  // Complaints about other units on this machine are not about ours.
  const output = `${r.stdout}${r.stderr}`
    .split('\n')
    .filter((l) => l.includes(path.basename(unitFile)))
    .join('\n');
  return { status: r.status, output };
}

function setting(unit: string, key: string): string[] {
  return unit
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

describe('install-systemd', () => {
  let dir: string;
  let configFile: string;

  beforeEach(() => {
    // Not under /tmp's PrivateTmp view in a real install, but the unit only has to be valid here.
    dir = tempDir();
    configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ db: 'sqlite:/var/lib/teampass-ws/ws.sqlite', log_file: '/var/log/teampass-ws/teampass-ws.log', port: 8080 }));
  });
  after(cleanupTempDirs);

  it('prints a unit with --dry-run that systemd-analyze verifies', async () => {
    const r = await runCli(['install-systemd', '--dry-run', '--config', configFile]);
    expect(r.code, r.stderr).to.equal(0);
    const unit = r.stdout;
    const unitFile = path.join(dir, 'teampass-websocket.service');
    writeFileSync(unitFile, unit);
    const v = verify(unitFile);
    expect(v.status, v.output).to.equal(0);
    expect(v.output, 'no warning about any line').to.equal('');

    expect(setting(unit, 'ExecStart')).to.deep.equal([`${realpathSync(process.execPath)} ${realpathSync(BIN)} serve --config ${configFile}`]);
    expect(setting(unit, 'User')).to.deep.equal(['www-data']);
    expect(setting(unit, 'WorkingDirectory')).to.deep.equal([realpathSync(ROOT)]);
    expect(setting(unit, 'After')).to.deep.equal(['network.target mysql.service mariadb.service']);
    expect(setting(unit, 'Restart')).to.deep.equal(['always']);
    expect(setting(unit, 'RestartSec')).to.deep.equal(['5']);
    expect(setting(unit, 'LimitNOFILE')).to.deep.equal(['11264']);
    expect(setting(unit, 'NoNewPrivileges')).to.deep.equal(['yes']);
    expect(setting(unit, 'ProtectSystem')).to.deep.equal(['strict']);
    expect(setting(unit, 'ProtectHome')).to.deep.equal(['yes']);
    expect(setting(unit, 'PrivateTmp')).to.deep.equal(['yes']);
    expect(setting(unit, 'LogsDirectory'), 'systemd creates the log folder for the service user').to.deep.equal(['teampass-ws']);
    expect(setting(unit, 'ReadWritePaths'), 'SQLite writes next to its file').to.deep.equal(['/var/lib/teampass-ws']);
    expect(setting(unit, 'CapabilityBoundingSet')).to.deep.equal(['']);
    expect(setting(unit, 'MemoryDenyWriteExecute'), "V8's JIT needs it off").to.deep.equal([]);
    expect(setting(unit, 'WantedBy')).to.deep.equal(['multi-user.target']);
    expect(unit).not.to.match(/\{\{|\}\}/);
  });

  it('follows its options: user, limits, privileged port, forwarded flags, log folder elsewhere', async () => {
    const logDir = path.join(dir, 'logs');
    mkdirSync(logDir);
    const r = await runCli(['install-systemd', '--dry-run', '--teampass-root', path.join(dir, 'no-teampass-here')]);
    expect(r.code, 'TeamPass settings are read and checked now, not when the service starts').to.equal(1);
    expect(r.stderr).to.match(/settings\.php|TeamPass/);

    const ok = await runCli(['install-systemd', '--dry-run', '--user', 'daemon', '--group', 'daemon', '--max-connections', '50000', '--port', '443', '--log-file', path.join(logDir, 'ws.log'), '--db', 'sqlite:/var/lib/teampass-ws/x.sqlite'], { cwd: dir });
    expect(ok.code, ok.stderr).to.equal(0);
    const unit = ok.stdout;
    expect(setting(unit, 'User')).to.deep.equal(['daemon']);
    expect(setting(unit, 'Group')).to.deep.equal(['daemon']);
    expect(setting(unit, 'LimitNOFILE')).to.deep.equal(['51200']);
    expect(setting(unit, 'AmbientCapabilities')).to.deep.equal(['CAP_NET_BIND_SERVICE']);
    expect(setting(unit, 'ReadWritePaths')).to.deep.equal([logDir, '/var/lib/teampass-ws']);
    expect(setting(unit, 'ExecStart')[0]).to.match(/ serve --port 443 --db sqlite:\/var\/lib\/teampass-ws\/x\.sqlite --log-file \S+ws\.log$/);
    expect(ok.stderr, 'a SQLite path is no secret').not.to.contain('puts a secret on the command line');
    const secret = await runCli(['install-systemd', '--dry-run', '--db', 'mysql://teampass:hunter2@127.0.0.1/teampass']);
    expect(secret.stderr).to.contain('--db puts a secret on the command line');
    expect(ok.stderr).to.contain('under /tmp');

    const unitFile = path.join(dir, 'teampass-websocket.service');
    writeFileSync(unitFile, unit);
    const v = verify(unitFile);
    expect(v.status, v.output).to.equal(0);
    expect(v.output).to.equal('');
  });

  it('writes --output, refuses to replace a different unit without --force, and leaves an identical one alone', async () => {
    const out = path.join(dir, 'units', 'teampass-websocket.service');
    const first = await runCli(['install-systemd', '--config', configFile, '--output', out]);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.contain(`Wrote ${out}`);
    expect(first.stdout, 'not a systemd folder: it says what to do next').to.contain(`cp ${out} /etc/systemd/system/teampass-websocket.service`);
    expect(statSync(out).mode & 0o777).to.equal(0o644);
    const v = verify(out);
    expect(v.status, v.output).to.equal(0);
    expect(v.output).to.equal('');

    const again = await runCli(['install-systemd', '--config', configFile, '--output', out]);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.contain('already up to date');

    const php = '[Unit]\nDescription=TeamPass WebSocket Server\n\n[Service]\nExecStart=/usr/bin/php websocket/bin/server.php\n';
    writeFileSync(out, php);
    const refused = await runCli(['install-systemd', '--config', configFile, '--output', out, '--user', 'daemon']);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain("already exists and runs TeamPass's PHP daemon");
    expect(refused.stderr).to.contain('--force');
    expect(readFileSync(out, 'utf8'), 'nothing replaced').to.equal(php);

    const forced = await runCli(['install-systemd', '--config', configFile, '--output', out, '--user', 'daemon', '--force']);
    expect(forced.code, forced.stderr).to.equal(0);
    expect(forced.stdout).to.contain(`Replaced ${out}`);
    expect(setting(readFileSync(out, 'utf8'), 'User')).to.deep.equal(['daemon']);
  });

  it('refuses bad options before writing anything', async () => {
    const out = path.join(dir, 'never.service');
    const badUser = await runCli(['install-systemd', '--config', configFile, '--output', out, '--user', 'rm -rf']);
    expect(badUser.code).to.equal(1);
    expect(badUser.stderr).to.contain('is not a user name');
    const badCount = await runCli(['install-systemd', '--config', configFile, '--output', out, '--max-connections', 'lots']);
    expect(badCount.code).to.equal(2);
    writeFileSync(path.join(dir, 'broken.json'), '{"port": "eighty"}');
    const badConfig = await runCli(['install-systemd', '--config', path.join(dir, 'broken.json'), '--output', out]);
    expect(badConfig.code).to.equal(1);
    expect(badConfig.stderr).to.contain('Invalid value for "port"');
    expect(() => statSync(out)).to.throw(/ENOENT/);
  });
});
