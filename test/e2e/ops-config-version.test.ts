import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_KEY_NAMES } from '../../src/config/index.js';
import { cleanupTempDirs, tempDir } from '../helpers/backends.js';
import { ROOT, runCli } from '../helpers/cli.js';

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };

interface ConfigJson {
  config_file: string | null;
  database: string | null;
  keys: Record<string, { value: unknown; source: string }>;
}

async function configJson(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ConfigJson> {
  const r = await runCli(['config', '--json', ...args], opts);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as ConfigJson;
}

describe('teampass-ws version', () => {
  it('prints the package version and the Node.js version, as `version` and `--version`', async function () {
    this.timeout(60_000);
    const expected = `teampass-ws ${pkg.version} (Node.js ${process.version})`;
    for (const args of [['version'], ['--version'], ['-V']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).to.equal(0);
      expect(r.stdout.trim(), args.join(' ')).to.equal(expected);
    }
    const json = await runCli(['version', '--json']);
    expect(JSON.parse(json.stdout)).to.deep.equal({ name: 'teampass-ws', version: pkg.version, node: process.version });
  });
});

describe('teampass-ws config', () => {
  after(cleanupTempDirs);

  it('shows every key with the source of its value: default, file, env, flag', async function () {
    this.timeout(60_000);
    const dir = tempDir();
    writeFileSync(path.join(dir, 'teampass-ws.json'), JSON.stringify({ port: 8090, log_level: 'debug' }));
    const out = await configJson(['--log-level', 'warn'], { cwd: dir, env: { TEAMPASS_WS_POLL_INTERVAL_MS: '150' } });
    expect(Object.keys(out.keys)).to.deep.equal(CONFIG_KEY_NAMES);
    const file = path.join(dir, 'teampass-ws.json');
    expect(out.config_file).to.equal(file);
    expect(out.keys.host).to.deep.equal({ value: '127.0.0.1', source: 'default' });
    expect(out.keys.port).to.deep.equal({ value: 8090, source: `file ${file}` });
    expect(out.keys.poll_interval_ms).to.deep.equal({ value: 150, source: 'env TEAMPASS_WS_POLL_INTERVAL_MS' });
    expect(out.keys.log_level).to.deep.equal({ value: 'warn', source: 'flag --log-level' });

    const text = await runCli(['config', '--log-level', 'warn'], { cwd: dir });
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.match(/^port\s+8090\s+file .*teampass-ws\.json$/m);
    expect(text.stdout).to.match(/^log_level\s+warn\s+flag --log-level$/m);
    expect(text.stdout).to.match(/^host\s+127\.0\.0\.1\s+default$/m);
  });

  it('hides secrets: the database password and jwt_secret never appear', async function () {
    this.timeout(60_000);
    const dir = tempDir();
    const args = ['--db', 'mysql://tp:Sup3rS3cret@127.0.0.1:3306/teampass', '--jwt-secret', 'jwt-S3cret-value'];
    for (const extra of [[], ['--json']]) {
      const r = await runCli(['config', ...args, ...extra], { cwd: dir });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.not.contain('Sup3rS3cret');
      expect(r.stdout).to.not.contain('jwt-S3cret-value');
      expect(r.stdout).to.contain('mysql://tp:***@127.0.0.1:3306/teampass');
      expect(r.stdout).to.contain('(hidden)');
    }
  });

  it('--init writes a commented file the loader reads back, and refuses to overwrite it without --force', async function () {
    this.timeout(120_000);
    const dir = tempDir();
    const file = path.join(dir, 'etc', 'config.json');
    const init = await runCli(['config', '--init', file, '--port', '8099', '--allowed-origins', 'https://tp.example.com'], { cwd: dir });
    expect(init.code, init.stderr).to.equal(0);
    expect(init.stdout).to.contain(`Config file written: ${file}`);
    const text = readFileSync(file, 'utf8');
    expect(text).to.contain('"//port": "TCP port for websocket and HTTP. Flag --port, env TEAMPASS_WS_PORT; default 8080."');
    for (const key of CONFIG_KEY_NAMES) expect(text, key).to.contain(`"${key}": `);

    const back = await configJson(['--config', file], { cwd: dir });
    expect(back.keys.port).to.deep.equal({ value: 8099, source: `file ${file}` });
    expect(back.keys.allowed_origins.value).to.deep.equal(['https://tp.example.com']);
    expect(back.keys.host.source).to.equal(`file ${file}`);

    const again = await runCli(['config', '--init', file], { cwd: dir });
    expect(again.code).to.equal(1);
    expect(again.stderr).to.contain(`${file} exists already; it was left unchanged.`);
    expect(readFileSync(file, 'utf8')).to.equal(text);

    const forced = await runCli(['config', '--init', file, '--force'], { cwd: dir });
    expect(forced.code, forced.stderr).to.equal(0);
    expect((await configJson(['--config', file], { cwd: dir })).keys.port.value).to.equal(8080);

    const bareDefault = await runCli(['config', '--init'], { cwd: dir });
    expect(bareDefault.code, bareDefault.stderr).to.equal(0);
    expect((await configJson([], { cwd: dir })).config_file).to.equal(path.join(dir, 'teampass-ws.json'));

    const misuse = await runCli(['config', '--force'], { cwd: dir });
    expect(misuse.code).to.equal(2);
    expect(misuse.stderr).to.contain('--force only applies to --init');
  });
});

describe('teampass-ws completion', () => {
  it('prints a bash script bash accepts, which completes subcommands and their options', async function () {
    this.timeout(60_000);
    const r = await runCli(['completion', 'bash']);
    expect(r.code, r.stderr).to.equal(0);
    const dir = tempDir();
    const script = path.join(dir, 'teampass-ws.bash');
    writeFileSync(script, r.stdout);
    expect(spawnSync('bash', ['-n', script], { encoding: 'utf8' }).status, 'bash -n').to.equal(0);

    const complete = (words: string[]) => {
      const cword = words.length - 1;
      const probe = `source '${script}'; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${cword}; _teampass_ws; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const res = spawnSync('bash', ['-c', probe], { encoding: 'utf8' });
      expect(res.status, res.stderr).to.equal(0);
      return res.stdout.split('\n').filter(Boolean);
    };
    const top = complete(['teampass-ws', '']);
    for (const sub of ['serve', 'migrate', 'emit', 'tail-logs', 'install-systemd', 'check-requirements', 'config', 'token', 'health', 'version', 'completion']) {
      expect(top, sub).to.include(sub);
    }
    expect(complete(['teampass-ws', 'to'])).to.deep.equal(['token']);
    expect(complete(['teampass-ws', 'serve', '--de'])).to.deep.equal(['--demo']);
    expect(complete(['teampass-ws', 'check', '--unit'])).to.deep.equal(['--unit-file']);
    expect(complete(['teampass-ws', 'token', 'alice', '--u'])).to.deep.equal(['--url']);
    expect(complete(['teampass-ws', 'completion', ''])).to.include.members(['bash', 'zsh']);
    expect(complete(['teampass-ws', 'serve', '--log-level', ''])).to.deep.equal(['error', 'warn', 'info', 'debug']);
  });

  it('prints a zsh script for every command, and refuses another shell', async function () {
    this.timeout(60_000);
    const r = await runCli(['completion', 'zsh']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^#compdef teampass-ws/);
    // zsh checks its syntax where installed; elsewhere bash, whose quoting rules match for every
    // construct the script uses, catches an unbalanced quote.
    const dir = tempDir();
    const script = path.join(dir, '_teampass-ws');
    writeFileSync(script, r.stdout);
    const zsh = spawnSync('zsh', ['-n', script], { encoding: 'utf8' });
    const syntax = zsh.error ? spawnSync('bash', ['-n', script], { encoding: 'utf8' }) : zsh;
    expect(syntax.status, syntax.stderr).to.equal(0);
    // The command list holds one 'name:description' word per command and alias, quotes and all.
    const list = spawnSync('bash', ['-c', `eval "$(sed -n '/^  commands=(/,/^  )/p' '${script}')"; printf '%s\\n' "\${commands[@]}"`], { encoding: 'utf8' });
    const entries = list.stdout.split('\n').filter(Boolean);
    expect(entries.map((e) => e.split(':')[0])).to.deep.equal([
      'serve', 'migrate', 'emit', 'tail-logs', 'install-systemd', 'check-requirements', 'check', 'config', 'token', 'health', 'version', 'completion',
    ]);
    expect(entries.find((e) => e.startsWith('tail-logs:'))).to.match(/^tail-logs:print the end of the daemon's log/);
    // A description shortened after quoting would end in a stray quote (or worse, open one).
    for (const e of entries) expect(e).to.not.match(/'$/);
    expect(r.stdout).to.contain("'token:issue a websocket token");
    expect(r.stdout).to.contain("'--demo[");
    const fish = await runCli(['completion', 'fish']);
    expect(fish.code).to.equal(2);
    expect(fish.stderr).to.contain('bash, zsh');
  });
});
