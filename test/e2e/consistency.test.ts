import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/backends.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mariadb.js';

// eslint-disable-next-line no-control-regex
const ESCAPE = /\u001b\[/;

describe('the commands behave alike (the CLI as a process)', function () {
  this.timeout(60_000);

  it('teampass-ws alone prints the help and exits 1; --help exits 0', async () => {
    const bare = await runCli([]);
    expect(bare.code).to.equal(1);
    expect(bare.stderr).to.contain('Usage: teampass-ws');
    const help = await runCli(['--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.contain('Usage: teampass-ws');
  });

  it('--help shows the defaults of the configuration flags', async () => {
    const r = await runCli(['serve', '--help']);
    expect(r.code).to.equal(0);
    expect(r.stdout.replace(/\s+/g, ' ')).to.match(/--port <value> TCP port for websocket and HTTP \(default: 8080\)/);
    expect(r.stdout.replace(/\s+/g, ' ')).to.match(/--poll-interval-ms <value> .*\(default: 200\)/);
  });

  it('honours NO_COLOR and --no-color', async () => {
    const dir = tempDir('tpws-colour-');
    const coloured = await runCli(['tail-logs', dir], { env: { FORCE_COLOR: '1', NO_COLOR: '' } });
    expect(coloured.stderr, 'colours when forced and not refused').to.match(ESCAPE);
    const noColor = await runCli(['tail-logs', dir], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    expect(noColor.stderr).to.not.match(ESCAPE);
    const flag = await runCli(['tail-logs', dir, '--no-color'], { env: { FORCE_COLOR: '1', NO_COLOR: '' } });
    expect(flag.code).to.equal(1);
    expect(flag.stderr).to.contain('is a folder');
    expect(flag.stderr).to.not.match(ESCAPE);
  });

  it('tail-logs --level takes only the levels it lists', async () => {
    const dir = tempDir('tpws-level-');
    const log = path.join(dir, 'ws.log');
    writeFileSync(log, '{"level":"warn","message":"hello"}\n');
    const r = await runCli(['tail-logs', log, '--level', 'warning']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/--level "warning" is not a log level/);
    expect(r.stderr).to.match(/error, warn, info, debug/);
    expect((await runCli(['tail-logs', log, '--level', 'WARN'])).code).to.equal(0);
  });

  it('migrate --force without --rollback is a usage error', async () => {
    const dir = tempDir('tpws-force-');
    const r = await runCli(['migrate', '--db', `sqlite:${path.join(dir, 'ws.sqlite')}`, '--force'], { cwd: dir });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/--force only goes with --rollback/);
  });

  it('serve and check refuse an allowed_origins entry that is no origin, as a configuration error', async () => {
    const dir = tempDir('tpws-origins-');
    const port = String(await freePort());
    expect((await runCli(['migrate', '--db', 'sqlite:ws.sqlite'], { cwd: dir })).code).to.equal(0);
    for (const entry of ['ws://teampass.example.com', 'teampass example']) {
      const served = await runCli(['serve', '--db', 'sqlite:ws.sqlite', '--port', port, '--log-file', '', '--allowed-origins', entry], { cwd: dir, timeoutMs: 20_000 });
      expect(served.code, served.stderr).to.equal(1);
      expect(served.stderr).to.contain('Invalid value for "allowed_origins" from flag --allowed-origins');
      expect(served.stderr).to.contain(JSON.stringify(entry));
      expect(served.stderr).to.not.contain('listening');

      const checked = await runCli(['check', '--db', 'sqlite:ws.sqlite', '--unit-file', 'none.service', '--max-connections', '100', '--allowed-origins', entry, '--json'], { cwd: dir });
      expect(checked.code).to.equal(1);
      const config = (JSON.parse(checked.stdout) as { checks: Array<{ id: string; status: string; detail: string; fix?: string }> }).checks.find((c) => c.id === 'config')!;
      expect(config.status).to.equal('error');
      expect(config.detail).to.contain('Invalid value for "allowed_origins"');
      expect(config.detail).to.contain(JSON.stringify(entry));
      expect(config.fix).to.contain('allowed_origins');
    }
  });

  it('migrate warns about a database without TeamPass tables, and its dry run claims nothing about settings rows', async () => {
    const dir = tempDir('tpws-bare-');
    const dry = await runCli(['migrate', '--db', 'sqlite:bare.sqlite', '--dry-run'], { cwd: dir });
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stderr).to.match(/holds no TeamPass tables \(no teampass_users, no teampass_misc\)/);
    expect(dry.stdout).to.not.contain('already in shape');
    expect(dry.stdout).to.contain('no teampass_misc table: no settings rows to seed');
    const applied = await runCli(['migrate', '--db', 'sqlite:bare.sqlite'], { cwd: dir });
    expect(applied.code, applied.stderr).to.equal(0);
    expect(applied.stderr).to.match(/holds no TeamPass tables/);
    expect(applied.stderr).to.contain('--prefix');
    const json = await runCli(['migrate', '--db', 'sqlite:bare.sqlite', '--status', '--json'], { cwd: dir });
    expect(json.code, json.stderr).to.equal(0);
    expect((JSON.parse(json.stdout) as { warnings: string[] }).warnings.join()).to.match(/holds no TeamPass tables/);
  });
});
