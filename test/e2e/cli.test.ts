import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mariaDb } from '../helpers/mariadb.js';
import { tempDir } from '../helpers/backends.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { makeTeampassInstall } from '../helpers/teampass-install.js';

describe('teampass-ws command line', () => {
  it('prints help listing its commands, and --version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.contain('Usage: teampass-ws');
    expect(help.stdout).to.match(/^\s+migrate \[options\]/m);
    const version = await runCli(['--version']);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).to.equal(`teampass-ws ${pkg.version} (Node.js ${process.version})`);
  });

  it('prints help for a command', async () => {
    const r = await runCli(['migrate', '--help']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.contain('--dry-run');
    expect(r.stdout).to.contain('--teampass-root');
  });

  it('exits 2 on a usage error and says how to get help', async () => {
    const r = await runCli(['migrate', '--no-such-flag']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain("unknown option '--no-such-flag'");
    expect(r.stderr).to.contain('--help');
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).to.equal(2);
  });

  it('exits 1 on a bad config value, naming the key and the source', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'teampass-ws.json'), JSON.stringify({ prefix: 'bad prefix!' }));
    const r = await runCli(['migrate', '--db', 'sqlite:ws.sqlite'], { cwd: dir });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('Invalid table prefix "bad prefix!"');
    const env = await runCli(['migrate'], { cwd: dir, env: { TEAMPASS_WS_PORT: 'eighty' } });
    expect(env.code).to.equal(1);
    expect(env.stderr).to.contain('Invalid value for "port" from env TEAMPASS_WS_PORT: "eighty"');
  });
});

describe('teampass-ws with --teampass-root [mariadb]', function () {
  let port: number;
  let dbName: string;
  const password = 'S3cret$with"quote';

  before(async function () {
    const server = await mariaDb();
    if (!server) this.skip(); // only on a developer machine without MariaDB; CI=true fails instead
    port = server.port;
    const url = await server.createDatabase();
    dbName = new URL(url).pathname.slice(1);
    const conn = await mysql.createConnection(server.baseUrl);
    await conn.query(`CREATE USER IF NOT EXISTS 'tpuser'@'127.0.0.1' IDENTIFIED BY ?`, [password]);
    await conn.query(`GRANT ALL ON \`${dbName}\`.* TO 'tpuser'@'127.0.0.1'`);
    await conn.end();
  });

  for (const version of ['3.1', '3.2'] as const) {
    it(`migrates a TeamPass ${version} database with its encrypted DB_PASSWD, never printing it`, async () => {
      const root = makeTeampassInstall({ version, host: '127.0.0.1', port, user: 'tpuser', password, database: dbName, prefix: `v${version.replace('.', '')}_` });
      const r = await runCli(['migrate', '--teampass-root', root]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.contain(`Database: mysql://tpuser@127.0.0.1:${port}/${dbName}`);
      expect(r.stdout).to.contain('applied 20260101000000_websocket_tables');
      expect(r.stdout + r.stderr).not.to.contain(password);
    });
  }

  it('says which step failed when the key does not match', async () => {
    const root = makeTeampassInstall({ version: '3.2', host: '127.0.0.1', port, user: 'tpuser', password, database: dbName });
    const other = makeTeampassInstall({ version: '3.2', password: 'x' });
    const keyName = 'tp-seckey-ab12cd.txt';
    writeFileSync(path.join(root, 'secrets', keyName), readFileSync(path.join(other, 'secrets', keyName)));
    const r = await runCli(['migrate', '--teampass-root', root]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/DB_PASSWD|decrypt/i);
    expect(r.stdout + r.stderr).not.to.contain(password);
  });
});
