import { expect } from 'chai';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { unixSecondsSql, type Database } from '../../src/db/index.js';
import { cleanupTempDirs, forEachBackend } from '../helpers/backends.js';
import { runCli, startCli, type RunningCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mariadb.js';
import { createTeampassDatabase, seedUser, updateUser } from '../helpers/teampass-fixture.js';
import { closeAll, connect, type TestWsClient } from '../helpers/ws-client.js';

const LISTENING = /teampass-ws listening on ws:\/\/127\.0\.0\.1:(\d+)/;

/** The token row's lifetime as the database sees it: expires_at − created_at, in seconds. */
async function lifetimeSec(db: Database, token: string): Promise<number> {
  const row = (await db.knex(db.t.tokens)
    .select(db.knex.raw(`${unixSecondsSql(db, 'expires_at')} - ${unixSecondsSql(db, 'created_at')} as ttl`), 'used')
    .where({ token })
    .first()) as { ttl: number; used: number } | undefined;
  expect(row, 'token row').to.not.equal(undefined);
  return Number(row!.ttl);
}

forEachBackend('token and health against a running daemon', (backend) => {
  let url: string;
  let db: Database;
  let daemon: RunningCli;
  let port: number;
  const clients: TestWsClient[] = [];

  before(async function () {
    this.timeout(90_000);
    url = await backend().newDatabaseUrl();
    db = await createTeampassDatabase(url);
    await seedUser(db, { login: 'alice' });
    await seedUser(db, { login: 'carol', disabled: true });
    await seedUser(db, { login: 'dave', deleted: true });
    const eve = await seedUser(db, { login: 'eve' });
    await updateUser(db, eve.id, { key_tempo: '' });
    port = await freePort();
    daemon = startCli(['serve', '--db', url, '--host', '127.0.0.1', '--port', String(port)]);
    await daemon.waitFor(LISTENING, 60_000);
  });
  after(async function () {
    this.timeout(30_000);
    await closeAll(clients.splice(0));
    await daemon?.stop();
    await db?.close();
    cleanupTempDirs();
  });

  it('token <login> --url prints a websocat and a wscat line whose token connects as that user', async function () {
    this.timeout(30_000);
    const r = await runCli(['token', 'alice', '--db', url, '--port', String(port), '--url']);
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split('\n');
    const token = lines[0];
    expect(token).to.match(/^[a-f0-9]{64}$/);
    expect(lines).to.include(`websocat 'ws://127.0.0.1:${port}/?token=${token}'`);
    expect(lines).to.include(`wscat -c 'ws://127.0.0.1:${port}/?token=${token}'`);
    expect(r.stderr).to.contain('Token for alice');
    expect(await lifetimeSec(db, token), '3.2 lifetime').to.be.within(3599, 3601);

    const wsUrl = /websocat '([^']+)'/.exec(r.stdout)![1];
    const client = await connect(wsUrl);
    clients.push(client);
    expect(await client.nextOfType('connected', undefined, 10_000)).to.include({ type: 'connected', user_login: 'alice' });
  });

  it('honours token_mode single_use (60 s) and --ttl, with --json', async function () {
    this.timeout(60_000);
    const single = await runCli(['token', 'alice', '--db', url, '--token-mode', 'single_use', '--json']);
    expect(single.code, single.stderr).to.equal(0);
    const body = JSON.parse(single.stdout) as { token: string; token_mode: string; ttl_sec: number; login: string };
    expect(body).to.include({ token_mode: 'single_use', ttl_sec: 60, login: 'alice' });
    expect(await lifetimeSec(db, body.token)).to.be.within(59, 61);

    const custom = await runCli(['token', 'alice', '--db', url, '--ttl', '600', '--json']);
    expect(custom.code, custom.stderr).to.equal(0);
    expect(await lifetimeSec(db, (JSON.parse(custom.stdout) as { token: string }).token)).to.be.within(599, 601);

    const bad = await runCli(['token', 'alice', '--db', url, '--ttl', 'soon']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('--ttl needs a whole number of seconds');
  });

  it('refuses unknown, disabled and deleted users with one line each, writing no row', async function () {
    this.timeout(60_000);
    const before = Number(((await db.knex(db.t.tokens).count({ n: '*' })) as Array<{ n: number }>)[0].n);
    for (const [login, message] of [
      ['nobody', 'No TeamPass user has the login "nobody"'],
      ['carol', 'The TeamPass user "carol" is disabled'],
      ['dave', 'The TeamPass user "dave" is deleted'],
    ]) {
      const r = await runCli(['token', login, '--db', url]);
      expect(r.code, login).to.equal(1);
      expect(r.stdout, login).to.not.match(/[a-f0-9]{64}/);
      expect(r.stderr, login).to.contain(message);
      expect(r.stderr, login).to.not.match(/\n\s+at /);
    }
    const after = Number(((await db.knex(db.t.tokens).count({ n: '*' })) as Array<{ n: number }>)[0].n);
    expect(after).to.equal(before);
  });

  it('warns that a user without a live TeamPass session cannot connect yet', async () => {
    const r = await runCli(['token', 'eve', '--db', url]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.contain('"eve" has no live TeamPass session');
  });

  it('health exits 0 on the running daemon, by configured port and by --url', async function () {
    this.timeout(60_000);
    const byPort = await runCli(['health', '--port', String(port)]);
    expect(byPort.code, byPort.stderr).to.equal(0);
    expect(byPort.stdout).to.contain(`healthy: http://127.0.0.1:${port}/healthz`);
    const byEnv = await runCli(['health'], { env: { TEAMPASS_WS_PORT: String(port) } });
    expect(byEnv.code, byEnv.stderr).to.equal(0);
    const byUrl = await runCli(['health', '--url', `http://127.0.0.1:${port}`, '--json']);
    expect(byUrl.code, byUrl.stderr).to.equal(0);
    expect(JSON.parse(byUrl.stdout)).to.deep.include({ healthy: true, url: `http://127.0.0.1:${port}/healthz` });
  });
});

describe('teampass-ws health without a healthy daemon', () => {
  it('exits 1 with one line on a closed port', async () => {
    const closed = await freePort();
    const r = await runCli(['health', '--port', String(closed)]);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.contain(`unhealthy: http://127.0.0.1:${closed}/healthz: connection refused`);
  });

  it('exits 1 naming the status and the problems when /healthz answers 503', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(503, { 'Content-Type': 'application/json' }).end(JSON.stringify({ status: 'degraded', service: 'teampass-ws', problems: ['database unreachable'] }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const r = await runCli(['health', '--url', `http://127.0.0.1:${port}/healthz`]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('HTTP 503 (degraded): database unreachable');
    } finally {
      server.close();
    }
  });
});
