import { expect } from 'chai';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/backends.js';
import { runCli, startCli, startCliOnTerminal, type RunningCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mariadb.js';

const LISTENING = /teampass-ws listening on ws:\/\/127\.0\.0\.1:(\d+)/;

describe('demo mode only when asked for (the CLI as a process)', function () {
  this.timeout(60_000);
  let cwd: string;
  let daemon: RunningCli | undefined;

  beforeEach(() => {
    cwd = tempDir('tpws-demo-mode-');
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });

  it('refuses to run the demo when serve is not started from a terminal and names no database', async () => {
    const r = await runCli(['serve', '--port', String(await freePort())], { cwd });
    expect(r.code, r.stdout + r.stderr).to.equal(1);
    expect(r.stderr).to.match(/No database is named/);
    expect(r.stderr).to.match(/--teampass-root .*--db .*--demo/);
    expect(existsSync(path.join(cwd, 'teampass-ws-demo.sqlite')), 'no demo database created').to.equal(false);
  });

  it('refuses a config file that names no database, saying which file', async () => {
    const config = path.join(cwd, 'teampass-ws.json');
    writeFileSync(config, JSON.stringify({ port: await freePort() }));
    const r = await runCli(['serve'], { cwd });
    expect(r.code, r.stdout + r.stderr).to.equal(1);
    expect(r.stderr).to.contain(`The config file ${config} names no database`);
    expect(r.stderr).to.match(/→ .*"db".*"teampass_root"/);
    expect(existsSync(path.join(cwd, 'teampass-ws-demo.sqlite'))).to.equal(false);
  });

  it('refuses to install a unit that would run the demo', async () => {
    const r = await runCli(['install-systemd', '--dry-run'], { cwd });
    expect(r.code, r.stdout + r.stderr).to.equal(1);
    expect(r.stderr).to.match(/No database is named, so the unit would run the demo/);
    expect(r.stdout).to.not.contain('[Service]');
  });

  it('runs the demo for a bare serve typed at a terminal, and says mode demo in /healthz and /metrics', async () => {
    const port = await freePort();
    daemon = startCliOnTerminal(['serve', '--port', String(port)], { cwd });
    await daemon.waitFor(LISTENING);
    expect(daemon.output()).to.match(/DEMO MODE: NOT CONNECTED TO TEAMPASS/);
    const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { mode: string };
    expect(health.mode).to.equal('demo');
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).to.match(/^teampass_ws_info\{.*mode="demo".*\} 1$/m);
  });

  it('says mode teampass when it serves a named database', async () => {
    const db = `sqlite:${path.join(cwd, 'named.sqlite')}`;
    expect((await runCli(['migrate', '--db', db], { cwd })).code).to.equal(0);
    const port = await freePort();
    daemon = startCli(['serve', '--db', db, '--port', String(port)], { cwd });
    await daemon.waitFor(LISTENING);
    const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { mode: string };
    expect(health.mode).to.equal('teampass');
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).to.match(/^teampass_ws_info\{.*mode="teampass".*\} 1$/m);
  });
});
