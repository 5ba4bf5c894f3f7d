import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import net from 'node:net';
import path from 'node:path';
import { createTeampassTables, setTeampassSetting, type Database } from '../../src/db/index.js';
import { Migrator } from '../../migrations/migrator.js';
import { cleanupTempDirs, forEachBackend, openTestDatabase, tempDir } from '../helpers/backends.js';
import { BIN, cliEnv, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { freePort, mariaDb } from '../helpers/mariadb.js';
import { makeTeampassInstall } from '../helpers/teampass-install.js';

interface Report {
  ok: boolean;
  summary: Record<'ok' | 'warning' | 'error' | 'skipped', number>;
  checks: Array<{ id: string; title: string; status: string; detail: string; fix?: string }>;
}

function report(r: CliResult): Report {
  try {
    return JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`check --json printed something else than JSON:\n${r.stdout}\n${r.stderr}`);
  }
}

const statuses = (rep: Report) => Object.fromEntries(rep.checks.map((c) => [c.id, c.status]));
const check = (rep: Report, id: string) => rep.checks.find((c) => c.id === id)!;

/** A migrated database with TeamPass's tables and settings, as on a working installation. */
async function preparedDatabase(url: string, port: number): Promise<Database> {
  const db = await openTestDatabase(url);
  await createTeampassTables(db);
  await new Migrator(db).latest();
  await setTeampassSetting(db, 'websocket_enabled', '1');
  await setTeampassSetting(db, 'websocket_port', String(port));
  await setTeampassSetting(db, 'cpassman_url', 'https://teampass.example.com/index.php');
  return db;
}

forEachBackend('check-requirements', (backend) => {
  let dir: string;
  let url: string;
  let port: number;
  let db: Database;
  let configFile: string;
  let unitFile: string;

  const writeConfig = (extra: Record<string, unknown> = {}) =>
    writeFileSync(configFile, JSON.stringify({ db: url, port, log_file: path.join(dir, 'logs', 'teampass-ws.log'), allowed_origins: ['https://teampass.example.com'], ...extra }));
  const runCheck = (args: string[] = []) => runCli(['check', '--config', configFile, '--unit-file', unitFile, '--max-connections', '1000', ...args]);

  beforeEach(async () => {
    dir = tempDir();
    url = await backend().newDatabaseUrl();
    port = await freePort();
    db = await preparedDatabase(url, port);
    configFile = path.join(dir, 'config.json');
    unitFile = path.join(dir, 'teampass-websocket.service');
    writeConfig();
    const installed = await runCli(['install-systemd', '--config', configFile, '--output', unitFile, '--max-connections', '1000']);
    expect(installed.code, installed.stderr).to.equal(0);
  });
  afterEach(async () => {
    await db.close();
  });
  after(cleanupTempDirs);

  it('passes a healthy setup, one line per check, and exits 0', async () => {
    const r = await runCheck();
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).to.match(/^✔ Node\.js +\d+\.\d+\.\d+ \(needs 20\.19 or newer\)$/);
    expect(r.stdout).to.match(/✔ Database +\S+ reachable \((MariaDB|MySQL|SQLite) /);
    expect(r.stdout).to.match(/^– TeamPass settings +not used/m);
    expect(r.stdout).to.contain('13 checks: 12 ok, 0 warnings, 0 errors, 1 skipped.');
    expect(r.stdout).to.contain('Ready to run.');
    expect(r.stdout, 'no spinner or colour codes off a terminal').not.to.contain('\u001b[');

    const json = report(await runCli(['check-requirements', '--config', configFile, '--unit-file', unitFile, '--max-connections', '1000', '--json']));
    expect(json.ok).to.equal(true);
    expect(statuses(json)).to.deep.equal({
      node: 'ok',
      config: 'ok',
      teampass: 'skipped',
      database: 'ok',
      migrations: 'ok',
      indexes: 'ok',
      websocket_enabled: 'ok',
      admin_panel: 'ok',
      port: 'ok',
      systemd: 'ok',
      nofile: 'ok',
      log: 'ok',
      origins: 'ok',
    });
    expect(check(json, 'nofile').detail).to.contain(`LimitNOFILE in ${unitFile}`);
  });

  it('reports an unmigrated database as errors with the fix, and exits 1', async () => {
    const bare = await backend().newDatabaseUrl();
    const bareDb = await openTestDatabase(bare);
    await createTeampassTables(bareDb);
    await bareDb.close();
    writeConfig({ db: bare });
    const r = await runCheck();
    expect(r.code).to.equal(1);
    expect(r.stdout).to.match(/✖ Migrations +2 of 2 pending/);
    expect(r.stdout).to.contain('→ Run `teampass-ws migrate`');
    const json = report(await runCheck(['--json']));
    expect(json.ok).to.equal(false);
    expect(statuses(json)).to.include({ database: 'ok', migrations: 'error', indexes: 'error', websocket_enabled: 'warning' });
  });

  it('finds a missing events index', async () => {
    const name = db.client === 'mysql' ? 'idx_cleanup' : `${db.t.events}_idx_cleanup`;
    await db.knex.raw(db.client === 'mysql' ? `ALTER TABLE ${db.t.events} DROP INDEX ${name}` : `DROP INDEX ${name}`);
    const json = report(await runCheck(['--json']));
    expect(check(json, 'indexes')).to.include({ status: 'error' });
    expect(check(json, 'indexes').detail).to.match(/^idx_cleanup \(processed, processed_at\) missing/);
    expect(check(json, 'migrations').status, 'the bookkeeping says applied; the index says otherwise').to.equal('ok');
  });

  it('warns, without failing, when websocket_enabled is off or the admin panel looks elsewhere', async () => {
    await setTeampassSetting(db, 'websocket_enabled', '0');
    await setTeampassSetting(db, 'websocket_port', '8080');
    writeConfig({ port: port === 8080 ? 8081 : port });
    const r = await runCheck();
    expect(r.code, r.stdout).to.equal(0);
    expect(r.stdout).to.match(/! websocket_enabled +'0'/);
    expect(r.stdout).to.contain(`UPDATE ${db.t.misc} SET valeur = '1' WHERE type = 'admin' AND intitule = 'websocket_enabled';`);
    expect(r.stdout).to.match(/! Admin panel port +TeamPass's websocket_port is 8080/);
    expect(r.stdout).to.contain('Ready to run; the warnings above are worth a look.');
  });

  it('tells a port taken by another program from one held by a running teampass-ws', async function () {
    this.timeout(90_000);
    // Something that is not HTTP, as an SSH or database server would be. It reads what it is sent, so it sees the client leave.
    const other = net.createServer((s) => s.resume().end('SSH-2.0-OpenSSH\r\n'));
    await new Promise<void>((resolve) => other.listen(port, '127.0.0.1', resolve));
    try {
      const r = await runCheck();
      expect(r.code).to.equal(1);
      expect(r.stdout).to.match(new RegExp(`✖ Listening port +127\\.0\\.0\\.1:${port} is taken by another program`));
      expect(r.stdout).to.contain(`ss -ltnp 'sport = :${port}'`);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }

    // The daemon itself on the port: its /healthz says who it is.
    const daemon = startCli(['serve', '--config', configFile, '--log-file', '']);
    try {
      await daemon.waitFor(/teampass-ws listening on/, 60_000);
      const json = report(await runCheck(['--json']));
      expect(check(json, 'port').status).to.equal('ok');
      expect(check(json, 'port').detail).to.match(/is held by a running teampass-ws \d+\.\d+\.\d+ \(ok, 0 connections\)/);
      expect(json.ok).to.equal(true);
    } finally {
      await daemon.stop();
    }
  });

  it('judges allowed_origins, and falls back to the origin of cpassman_url', async () => {
    const verdict = async (origins: string[]) => {
      writeConfig({ allowed_origins: origins });
      return check(report(await runCheck(['--json'])), 'origins');
    };
    expect(await verdict([])).to.deep.include({ status: 'ok', detail: "not set: browsers from TeamPass's own address https://teampass.example.com (cpassman_url) are allowed" });
    expect((await verdict(['*'])).status).to.equal('warning');
    expect((await verdict(['http://teampass.example.com'])).detail).to.contain('without TLS');
    expect((await verdict(['http://localhost:8080'])).status, 'plain http on this machine is fine').to.equal('ok');
    expect((await verdict(['https://teampass.example.com/', 'teampass.example.com:8443'])).status, 'as the daemon matches them').to.equal('ok');
    expect((await verdict(['https://teampass.example.com/index.php'])).detail).to.contain('only https://teampass.example.com counts');
    // An entry that never matches a browser is a configuration error, as serve says at start.
    for (const [entry, why] of [['ws://teampass.example.com', '"ws://teampass.example.com": browsers send http: or https: origins, never ws:'], ['teampass example', '"teampass example" is neither an origin']]) {
      writeConfig({ allowed_origins: ['https://teampass.example.com', entry] });
      const r = await runCheck(['--json']);
      expect(r.code).to.equal(1);
      expect(check(report(r), 'config')).to.deep.include({ status: 'error' });
      expect(check(report(r), 'config').detail).to.contain(`Invalid value for "allowed_origins" from file ${configFile}: ${why}`);
      expect(check(report(r), 'config').fix).to.contain('as an origin (https://teampass.example.com) or a host name');
      expect(check(report(r), 'origins').status).to.equal('skipped');
    }
    await db.knex(db.t.misc).where({ intitule: 'cpassman_url' }).delete();
    expect((await verdict([])).status).to.equal('warning');
  });

  it('finds a log folder that cannot exist', async () => {
    writeFileSync(path.join(dir, 'not-a-folder'), '');
    writeConfig({ log_file: path.join(dir, 'not-a-folder', 'teampass-ws.log') });
    const r = await runCheck(['--json']);
    expect(r.code).to.equal(1);
    expect(check(report(r), 'log')).to.deep.include({ status: 'error', detail: `${path.join(dir, 'not-a-folder')} is a file, so the log folder ${path.join(dir, 'not-a-folder')} cannot exist` });
  });
});

describe('check-requirements on a terminal', () => {
  after(cleanupTempDirs);

  /** Runs the check under a pseudo-terminal of the given width (util-linux `script`). */
  function onTerminal(columns: number, dir: string): Promise<CliResult> {
    const command = `stty cols ${columns} rows 40; exec ${process.execPath} ${BIN} check --db sqlite:ws.sqlite --unit-file none.service --max-connections 100`;
    return new Promise((resolve, reject) => {
      // Spinners are for people: ora stays off when CI is set, as it is in the CI run itself.
      const env = cliEnv({ FORCE_COLOR: '1', TERM: 'xterm' });
      delete env.CI;
      delete env.NO_COLOR;
      const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`check on a ${columns}-column terminal did not finish:\n${stdout.slice(-2000)}`));
      }, 30_000);
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  it('shows a spinner per check and leaves one coloured line each; a terminal without a width gets plain lines', async function () {
    this.timeout(90_000);
    const dir = tempDir();
    expect((await runCli(['migrate', '--db', 'sqlite:ws.sqlite'], { cwd: dir })).code).to.equal(0);
    const wide = await onTerminal(120, dir);
    expect(wide.code, wide.stdout).to.equal(0);
    expect(wide.stdout, 'ora hides the cursor while spinning').to.contain('\u001b[?25l');
    expect(wide.stdout).to.match(/\u001b\[32m✔\u001b\[39m \u001b\[1mMigrations/);
    expect(wide.stdout).to.contain('13 checks:');
    const narrow = await onTerminal(0, dir);
    expect(narrow.code, narrow.stdout).to.equal(0);
    expect(narrow.stdout).not.to.contain('\u001b[?25l');
    expect(narrow.stdout).to.contain('13 checks:');
  });
});

describe('check-requirements as an unprivileged user', () => {
  after(cleanupTempDirs);

  it('finds a log folder the user cannot write to', async function () {
    this.timeout(30_000);
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const logs = path.join(dir, 'logs');
    mkdirSync(logs, { mode: 0o755 });
    const configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ log_file: path.join(logs, 'teampass-ws.log') }));
    chmodSync(configFile, 0o644);
    // Root writes anywhere, whatever the mode: run the check as nobody instead, as the daemon's user would.
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) chmodSync(logs, 0o555);
    const r = await new Promise<CliResult>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'check', '--config', configFile, '--unit-file', path.join(dir, 'none.service'), '--json'], {
        cwd: dir,
        env: cliEnv(),
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(r.code, r.stderr).to.equal(1);
    const log = check(report(r), 'log');
    expect(log.status).to.equal('error');
    expect(log.detail).to.match(new RegExp(`^${logs} is not writable by \\S+ \\(EACCES\\)$`));
    expect(log.fix).to.contain(`install -d -o www-data -g www-data -m 0750 ${logs}`);
  });
});

describe('check-requirements with TeamPass settings [mariadb]', () => {
  let server: NonNullable<Awaited<ReturnType<typeof mariaDb>>>;
  let dbName: string;
  const user = `tpws_check_${process.pid}`;
  const password = 'R1ght-pa$$word';

  before(async function () {
    this.timeout(120_000);
    const found = await mariaDb();
    if (!found) this.skip(); // only on a developer machine without MariaDB; CI=true fails instead
    server = found;
    const url = await server.createDatabase();
    dbName = new URL(url).pathname.slice(1);
    const conn = await mysql.createConnection(server.baseUrl);
    try {
      await conn.query(`CREATE USER IF NOT EXISTS '${user}'@'127.0.0.1' IDENTIFIED BY '${password}'`);
      await conn.query(`GRANT ALL ON \`${dbName}\`.* TO '${user}'@'127.0.0.1'`);
    } finally {
      await conn.end();
    }
    const db = await openTestDatabase(url);
    await createTeampassTables(db);
    await new Migrator(db).latest();
    await setTeampassSetting(db, 'websocket_enabled', '1');
    await db.close();
  });
  after(cleanupTempDirs);

  const runWith = async (root: string) =>
    runCli(['check', '--teampass-root', root, '--port', String(await freePort()), '--unit-file', path.join(root, 'none.service'), '--max-connections', '100', '--json']);

  it('reads settings.php, decrypts DB_PASSWD and reaches the database with it', async () => {
    const root = makeTeampassInstall({ version: '3.2', port: server.port, user, password, database: dbName });
    const json = report(await runWith(root));
    expect(check(json, 'teampass').status).to.equal('ok');
    expect(check(json, 'teampass').detail).to.match(/^TeamPass 3\.2 at .*: .*settings\.php read, DB_PASSWD decrypted with .*tp-seckey-ab12cd\.txt$/);
    expect(check(json, 'database').status).to.equal('ok');
    expect(check(json, 'migrations').status).to.equal('ok');
  });

  it('reports a wrong database password, and skips what needs the database', async () => {
    const root = makeTeampassInstall({ version: '3.2', port: server.port, user, password: 'wrong-password', database: dbName });
    const r = await runWith(root);
    expect(r.code).to.equal(1);
    const json = report(r);
    expect(check(json, 'teampass').status, 'the file is fine: the password in it is wrong').to.equal('ok');
    expect(check(json, 'database')).to.include({ status: 'error' });
    expect(check(json, 'database').detail).to.contain('access denied');
    expect(check(json, 'database').fix).to.contain('DB_USER and the key file');
    expect(statuses(json)).to.include({ migrations: 'skipped', indexes: 'skipped', websocket_enabled: 'skipped' });
  });

  it('reports a key file that does not decrypt DB_PASSWD', async () => {
    const root = makeTeampassInstall({ version: '3.2', port: server.port, user, password, database: dbName });
    const other = makeTeampassInstall({ version: '3.2', port: server.port, user, password, database: dbName });
    // The key of another installation: the MAC check fails.
    const key = path.join(root, 'secrets', 'tp-seckey-ab12cd.txt');
    writeFileSync(key, (await import('node:fs')).readFileSync(path.join(other, 'secrets', 'tp-seckey-ab12cd.txt')));
    const r = await runWith(root);
    expect(r.code).to.equal(1);
    const json = report(r);
    expect(check(json, 'teampass').status).to.equal('error');
    expect(check(json, 'config').status, 'the rest of the configuration is still checked').to.equal('ok');
    expect(check(json, 'database').status).to.equal('skipped');
  });
});
