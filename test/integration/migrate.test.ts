import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { createTeampassTables, type Database } from '../../src/db/index.js';
import { indexColumns } from '../../migrations/inspect.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { forEachBackend, openTestDatabase, tempDir } from '../helpers/backends.js';
import { runCli } from '../helpers/cli.js';

forEachBackend('migrate', (backend) => {
  let url: string;
  let db: Database;

  beforeEach(async () => {
    url = await backend().newDatabaseUrl();
    db = await openTestDatabase(url);
  });
  afterEach(async () => {
    await db.close();
  });

  const tables = async () => ({
    events: await db.knex.schema.hasTable('teampass_websocket_events'),
    connections: await db.knex.schema.hasTable('teampass_websocket_connections'),
    tokens: await db.knex.schema.hasTable('teampass_websocket_tokens'),
  });

  it('creates the three websocket tables with both events indexes, and reports status', async () => {
    const before = await runCli(['migrate', '--db', url, '--status']);
    expect(before.code).to.equal(0);
    expect(before.stdout).to.match(/pending\s+20260101000000_websocket_tables/);
    expect(before.stdout).to.contain('2 pending');

    const run = await runCli(['migrate', '--db', url]);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.contain('applied 20260101000000_websocket_tables');
    expect(await tables()).to.deep.equal({ events: true, connections: true, tokens: true });

    const idx = await indexColumns(db, 'teampass_websocket_events');
    const name = (n: string) => (db.client === 'mysql' ? n : `teampass_websocket_events_${n}`);
    expect(idx.get(name('idx_unprocessed'))).to.deep.equal(['processed', 'created_at']);
    expect(idx.get(name('idx_cleanup'))).to.deep.equal(['processed', 'processed_at']);

    const after = await runCli(['migrate', '--db', url, '--status', '--json']);
    const status = JSON.parse(after.stdout) as { migrations: Array<{ name: string; applied: boolean; batch: number }> };
    expect(status.migrations.map((m) => [m.applied, m.batch])).to.deep.equal([
      [true, 1],
      [true, 1],
    ]);
    expect(await db.knex.schema.hasTable('teampass_ws_migrations')).to.equal(true);
  });

  it('accepts every target type, including kb, and a JSON payload', async () => {
    expect((await runCli(['migrate', '--db', url])).code).to.equal(0);
    for (const target of ['user', 'folder', 'kb', 'broadcast']) {
      await db.knex('teampass_websocket_events').insert({ event_type: 'x', target_type: target, target_id: null, payload: '{"a":1}' });
    }
    const rows = await db.knex('teampass_websocket_events').select('target_type', 'processed').orderBy('id');
    expect(rows.map((r: { target_type: string }) => r.target_type)).to.deep.equal(['user', 'folder', 'kb', 'broadcast']);
    expect(rows.every((r: { processed: number }) => Number(r.processed) === 0)).to.equal(true);
    let rejected = false;
    try {
      await db.knex('teampass_websocket_events').insert({ event_type: 'x', target_type: 'nobody', payload: '{}' });
    } catch {
      rejected = true;
    }
    if (db.client === 'mysql') {
      // MariaDB in strict mode refuses an enum value it does not know.
      const [[mode]] = (await db.knex.raw('SELECT @@SESSION.sql_mode AS m')) as [[{ m: string }]];
      if (/STRICT/.test(mode.m)) expect(rejected).to.equal(true);
    } else expect(rejected).to.equal(true);
  });

  it('changes nothing when run twice', async () => {
    expect((await runCli(['migrate', '--db', url])).code).to.equal(0);
    const second = await runCli(['migrate', '--db', url]);
    expect(second.code).to.equal(0);
    expect(second.stdout).to.contain('Up to date');
    const rows = await db.knex('teampass_ws_migrations').count({ n: '*' }).first();
    expect(Number(rows?.n)).to.equal(2);
  });

  it('--dry-run prints the SQL and changes nothing', async () => {
    const dry = await runCli(['migrate', '--db', url, '--dry-run']);
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stdout).to.match(/CREATE TABLE IF NOT EXISTS [`"]teampass_websocket_events[`"]/);
    expect(dry.stdout).to.contain('nothing was changed');
    expect(await tables()).to.deep.equal({ events: false, connections: false, tokens: false });
  });

  it('--rollback undoes the last batch, and refuses to drop rows without --force', async () => {
    expect((await runCli(['migrate', '--db', url])).code).to.equal(0);
    await db.knex('teampass_websocket_events').insert({ event_type: 'item_created', target_type: 'folder', target_id: 1, payload: '{}' });

    const refused = await runCli(['migrate', '--db', url, '--rollback']);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain('teampass_websocket_events (1)');
    expect(refused.stdout + refused.stderr).to.contain('--force');
    expect((await tables()).events).to.equal(true);

    const forced = await runCli(['migrate', '--db', url, '--rollback', '--force']);
    expect(forced.code, forced.stderr).to.equal(0);
    expect(forced.stdout).to.contain('rolled back 20260101000000_websocket_tables');
    expect(await tables()).to.deep.equal({ events: false, connections: false, tokens: false });
    const status = await runCli(['migrate', '--db', url, '--status']);
    expect(status.stdout).to.contain('2 pending');
  });

  it('seeds the websocket misc rows only where absent and never overwrites them', async () => {
    await createTeampassTables(db);
    await db.knex('teampass_misc').insert({ type: 'admin', intitule: 'websocket_port', valeur: '9443' });
    expect((await runCli(['migrate', '--db', url])).code).to.equal(0);
    expect((await runCli(['migrate', '--db', url])).code).to.equal(0);
    const rows = await db.knex('teampass_misc').where({ type: 'admin' }).whereIn('intitule', ['websocket_enabled', 'websocket_port', 'websocket_host']).select('intitule', 'valeur');
    const map = Object.fromEntries(rows.map((r: { intitule: string; valeur: string }) => [r.intitule, r.valeur]));
    expect(map).to.deep.equal({ websocket_enabled: '0', websocket_port: '9443', websocket_host: '127.0.0.1' });
    expect(rows).to.have.length(3);
  });

  it('uses <prefix>ws_migrations for its bookkeeping with another prefix', async () => {
    const run = await runCli(['migrate', '--db', url, '--prefix', 'tp2_']);
    expect(run.code, run.stderr).to.equal(0);
    expect(await db.knex.schema.hasTable('tp2_ws_migrations')).to.equal(true);
    expect(await db.knex.schema.hasTable('tp2_websocket_events')).to.equal(true);
    expect(await db.knex.schema.hasTable('teampass_websocket_events')).to.equal(false);
  });

  it('survives two runs at once', async () => {
    const [a, b] = await Promise.all([runCli(['migrate', '--db', url]), runCli(['migrate', '--db', url])]);
    expect(a.code, a.stderr).to.equal(0);
    expect(b.code, b.stderr).to.equal(0);
    const applied = await db.knex('teampass_ws_migrations').select('name');
    expect(applied.map((r: { name: string }) => r.name).sort()).to.deep.equal(['20260101000000_websocket_tables', '20260101000100_websocket_settings']);
    expect(await tables()).to.deep.equal({ events: true, connections: true, tokens: true });
  });
});

describe('migrate adopting tables created by TeamPass [mariadb]', function () {
  let url: string;
  let conn: mysql.Connection;

  before(async function () {
    const { mariaDb } = await import('../helpers/mariadb.js');
    const server = await mariaDb();
    if (!server) this.skip(); // only on a developer machine without MariaDB; CI=true fails instead
    url = await server.createDatabase();
    conn = await mysql.createConnection(url);
    // The shape TeamPass 3.1.7's upgrade script creates: no 'kb' in the enum.
    await conn.query(`CREATE TABLE teampass_websocket_events (
      id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
      created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
      event_type VARCHAR(50) NOT NULL,
      target_type ENUM('user', 'folder', 'broadcast') NOT NULL,
      target_id INT UNSIGNED NULL,
      payload JSON NOT NULL,
      processed TINYINT(1) UNSIGNED DEFAULT 0,
      processed_at TIMESTAMP NULL,
      INDEX idx_unprocessed (processed, created_at),
      INDEX idx_cleanup (processed, created_at)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    await conn.query(`CREATE TABLE teampass_websocket_tokens (
      id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, user_id INT UNSIGNED NOT NULL, token VARCHAR(64) NOT NULL,
      created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, expires_at TIMESTAMP NOT NULL, used TINYINT(1) UNSIGNED DEFAULT 0,
      UNIQUE INDEX idx_token (token), INDEX idx_user (user_id), INDEX idx_expires (expires_at)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
    for (let i = 0; i < 5; i += 1) {
      await conn.query(`INSERT INTO teampass_websocket_events (event_type, target_type, target_id, payload) VALUES ('item_created', 'folder', ?, '{"item_id": 1}')`, [i]);
    }
    await conn.query(`INSERT INTO teampass_websocket_tokens (user_id, token, expires_at) VALUES (1, REPEAT('a', 64), DATE_ADD(NOW(), INTERVAL 1 HOUR))`);
  });
  after(async () => {
    await conn?.end();
  });

  it('adopts them without losing a row, adds kb and mends the cleanup index', async () => {
    const dry = await runCli(['migrate', '--db', url, '--dry-run']);
    expect(dry.stdout).to.contain("MODIFY `target_type` ENUM('user', 'folder', 'kb', 'broadcast') NOT NULL");
    const run = await runCli(['migrate', '--db', url]);
    expect(run.code, run.stderr).to.equal(0);
    const [[count]] = (await conn.query('SELECT COUNT(*) AS n FROM teampass_websocket_events')) as unknown as [[{ n: number }]];
    expect(Number(count.n)).to.equal(5);
    const [[tokens]] = (await conn.query('SELECT COUNT(*) AS n FROM teampass_websocket_tokens')) as unknown as [[{ n: number }]];
    expect(Number(tokens.n)).to.equal(1);
    await conn.query(`INSERT INTO teampass_websocket_events (event_type, target_type, payload) VALUES ('kb_created', 'kb', '{}')`);
    const [idx] = (await conn.query(`SHOW INDEX FROM teampass_websocket_events WHERE Key_name = 'idx_cleanup'`)) as unknown as [Array<{ Column_name: string }>];
    expect(idx.map((r) => r.Column_name)).to.deep.equal(['processed', 'processed_at']);
    const [[conns]] = (await conn.query(`SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'teampass_websocket_connections'`)) as unknown as [[{ n: number }]];
    expect(Number(conns.n)).to.equal(1);
  });
});

describe('migrate with a bad database', () => {
  it('names an unsupported URL scheme', async () => {
    const r = await runCli(['migrate', '--db', 'postgres://u@h/db']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('Unsupported database scheme "postgres"');
    expect(r.stderr).to.contain('--db mysql://');
  });

  it('says connection refused in one line, without a stack trace', async () => {
    const { freePort } = await import('../helpers/mariadb.js');
    const port = await freePort();
    const r = await runCli(['migrate', '--db', `mysql://root:s3cret-pw@127.0.0.1:${port}/teampass`]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('connection refused');
    expect(r.stderr).not.to.match(/\n\s+at /);
    expect(r.stdout + r.stderr).not.to.contain('s3cret-pw');
  });

  it('says it timed out when the server accepts but never answers', async function () {
    this.timeout(60_000);
    const net = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    try {
      const { port } = silent.address() as import('node:net').AddressInfo;
      const r = await runCli(['migrate', '--db', `mysql://root:pw@127.0.0.1:${port}/teampass`], { timeoutMs: 45_000 });
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/Timed out/);
      expect(r.stderr).not.to.match(/\n\s+at /);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  describe('[mariadb]', function () {
    let base: string;
    before(async function () {
      const { mariaDb } = await import('../helpers/mariadb.js');
      const server = await mariaDb();
      if (!server) this.skip(); // only on a developer machine without MariaDB; CI=true fails instead
      base = `127.0.0.1:${server.port}`;
    });

    it('says access denied for a wrong password, and never prints it', async () => {
      const r = await runCli(['migrate', '--db', `mysql://nobody:wr0ng-pass@${base}/teampass`]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('access denied');
      expect(r.stdout + r.stderr).not.to.contain('wr0ng-pass');
    });

    it('takes the database as separate keys, a password with URL characters unescaped', async () => {
      const { mariaDb } = await import('../helpers/mariadb.js');
      const server = (await mariaDb())!;
      const url = await server.createDatabase();
      const name = new URL(url).pathname.slice(1);
      const password = 'p@ss:w/rd%41?#';
      const root = await openTestDatabase(url);
      try {
        await root.knex.raw(`CREATE USER IF NOT EXISTS 'limited'@'%' IDENTIFIED BY ?`, [password]);
        await root.knex.raw(`GRANT ALL ON \`${name}\`.* TO 'limited'@'%'`);
      } finally {
        await root.close();
      }
      const dir = tempDir('tpws-db-keys-');
      const passwordFile = path.join(dir, 'db-password');
      writeFileSync(passwordFile, `${password}\n`);
      const keys = ['--db-host', '127.0.0.1', '--db-port', String(server.port), '--db-user', 'limited'];
      const ok = await runCli(['migrate', ...keys, '--db-password', password, '--db-name', name]);
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stdout).to.contain(`mysql://limited@127.0.0.1:${server.port}/${name}`);
      const fromFile = await runCli(['migrate', ...keys, '--db-password-file', passwordFile, '--db-name', name, '--status']);
      expect(fromFile.code, fromFile.stderr).to.equal(0);

      // The same user and a database that does not exist: MariaDB answers "access denied to
      // database", exactly as for one the user may not use. Both are said; the password was right.
      const missing = await runCli(['migrate', ...keys, '--db-password', password, '--db-name', 'no_such_db_here']);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.match(/database no_such_db_here does not exist, or the user limited has no privilege on it/);
      expect(missing.stderr).to.not.match(/password/i);
      expect(missing.stdout + missing.stderr).to.not.contain(password);
    });

    it('says the database does not exist', async () => {
      const r = await runCli(['migrate', '--db', `mysql://root@${base}/no_such_db_here`]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('has no such database');
    });
  });
});
