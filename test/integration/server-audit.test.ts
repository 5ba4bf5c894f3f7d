import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import jwt from 'jsonwebtoken';
import type { Database } from '../../src/db/index.js';
import { forEachBackend } from '../helpers/backends.js';
import { issueToken, seedUser } from '../helpers/teampass-fixture.js';
import { PRECISE_CLOSE_CODES } from '../helpers/ws-client.js';
import { connected, useServerSuite, waitFor, waitForLog, type TestServer } from './server-harness.js';

interface ConnectionRow {
  user_id: number;
  resource_id: string;
  ip_address: string | null;
  user_agent: string | null;
  connected_at: unknown;
  disconnected_at: unknown;
}

forEachBackend('serve: audit rows, logs and shutdown', (backend) => {
  const suite = useServerSuite(backend);
  let db: Database;
  let srv: TestServer;

  beforeEach(async () => {
    db = suite.db;
  });

  const rows = async () => (await db.knex(db.t.connections).select('*').orderBy('id')) as ConnectionRow[];

  it('closes at start the rows an earlier run of the same instance left open, and only those', async () => {
    const user = await seedUser(db);
    await db.knex(db.t.connections).insert([
      { user_id: user.id, resource_id: 'web1:8080-7', ip_address: '127.0.0.1' },
      { user_id: user.id, resource_id: 'web1:8081-7', ip_address: '127.0.0.1' },
      { user_id: user.id, resource_id: 'web1:80800-1', ip_address: '127.0.0.1' },
    ]);
    srv = await suite.start({ instanceId: 'web1:8080' });
    const open = (await rows()).filter((r) => r.disconnected_at === null).map((r) => r.resource_id);
    expect(open).to.deep.equal(['web1:8081-7', 'web1:80800-1']);
    await waitForLog(srv, (l) => l.message === 'Closed connection rows an earlier run of this daemon left open' && l.rows === 1);
    const client = await srv.client(`?token=${await issueToken(db, user.id)}`);
    await connected(client);
    await waitFor(async () => (await rows()).some((r) => r.resource_id.startsWith('web1:8080-1')));
  });

  it('records each connection in websocket_connections with the client address behind a trusted proxy', async () => {
    srv = await suite.start();
    const user = await seedUser(db);
    const client = await srv.client(`?token=${await issueToken(db, user.id)}`, {
      headers: { 'X-Forwarded-For': '198.51.100.4, 10.0.0.1', 'User-Agent': 'Mozilla/5.0 (test)' },
    });
    await connected(client);
    await waitFor(async () => (await rows()).length === 1);
    const [row] = await rows();
    expect(row).to.deep.include({ user_id: user.id, ip_address: '10.0.0.1', user_agent: 'Mozilla/5.0 (test)', disconnected_at: null });
    expect(row.resource_id).to.equal([...srv.server.directory.all()][0].id);
    expect(row.connected_at).to.not.equal(null);
    await client.close();
    await waitFor(async () => (await rows())[0].disconnected_at !== null);
  });

  it('walks X-Forwarded-For past every trusted proxy, and ignores it from an untrusted peer', async () => {
    srv = await suite.start({ config: { trusted_proxies: ['127.0.0.1', '10.0.0.0/8'] } });
    const user = await seedUser(db);
    await connected(await srv.client(`?token=${await issueToken(db, user.id)}`, { headers: { 'X-Forwarded-For': '198.51.100.4, 10.0.0.1' } }));
    await srv.stop();
    srv = await suite.start({ config: { trusted_proxies: [] } });
    await connected(await srv.client(`?token=${await issueToken(db, user.id)}`, { headers: { 'X-Forwarded-For': '198.51.100.4' } }));
    await waitFor(async () => (await rows()).length === 2);
    expect((await rows()).map((r) => r.ip_address)).to.deep.equal(['198.51.100.4', '127.0.0.1']);
  });

  it('logs connects, disconnects and failures without any token', async () => {
    srv = await suite.start({ config: { jwt_secret: 'log-secret' } });
    const user = await seedUser(db, { login: 'carol' });
    const token = await issueToken(db, user.id);
    const client = await srv.client(`?token=${token}`);
    const frame = await connected(client);
    const bad = await srv.client(`?token=${'a'.repeat(64)}`);
    await bad.waitClose();
    const badJwt = jwt.sign({ id: user.id, exp: 1 }, 'log-secret');
    await (await srv.client(`?token=${badJwt}`)).waitClose();
    const viaMessage = await srv.client();
    viaMessage.send({ action: 'authenticate', token: 'b'.repeat(64) });
    await viaMessage.waitClose();
    await client.close();
    await waitForLog(srv, (l) => l.message === 'Connection closed');
    const logs = srv.logs();
    expect(logs.find((l) => l.message === 'Connection established')).to.deep.include({ user_id: user.id, user_login: 'carol', auth_method: 'ws_token', ip: '127.0.0.1' });
    expect(logs.filter((l) => l.message === 'Authentication failed').map((l) => l.reason)).to.deep.equal(['token_unknown', 'jwt_expired', 'token_unknown']);
    expect(logs.find((l) => l.message === 'Connection closed')).to.deep.include({ user_id: user.id, code: 1000 });
    const text = readFileSync(srv.logFile, 'utf8');
    for (const secret of [token, frame.reconnect_token as string, 'a'.repeat(64), 'b'.repeat(64), badJwt, user.keyTempo as string]) {
      expect(text).not.to.contain(secret);
    }
  });

  it('logs one line, not one per connection, when the rows of many closing connections cannot be written', async () => {
    const user = await seedUser(db);
    srv = await suite.start({ config: { max_connections_per_user: 10 } });
    const clients = await Promise.all(Array.from({ length: 4 }, async () => srv.client(`?token=${await issueToken(db, user.id)}`)));
    for (const c of clients) await connected(c);
    await waitFor(async () => (await rows()).length === 4, 'four connection rows');
    await db.knex.schema.renameTable(db.t.connections, `${db.t.connections}_away`);
    try {
      for (const c of clients) {
        c.close();
        await c.waitClose();
      }
      await waitForLog(srv, (l) => String(l.message).startsWith('Could not mark a connection disconnected'));
      // The other closes fail within the same minute: counted, not logged one by one.
      await srv.stop();
    } finally {
      await db.knex.schema.renameTable(`${db.t.connections}_away`, db.t.connections);
    }
    const lines = srv.logs().filter((l) => String(l.message).startsWith('Could not mark a connection disconnected'));
    expect(lines, lines.map((l) => JSON.stringify(l)).join('\n')).to.have.length(1);
  });

  it('stop(): refuses new clients, closes the others (1001 when asked for, else 1000), marks their rows disconnected; twice is safe', async () => {
    srv = await suite.start();
    const users = [await seedUser(db), await seedUser(db)];
    const clients = [];
    for (const [i, u] of users.entries()) {
      const c = await srv.client(`?token=${await issueToken(db, u.id)}`, i === 0 ? PRECISE_CLOSE_CODES : {});
      await connected(c);
      clients.push(c);
    }
    await waitFor(async () => (await rows()).length === 2);
    await Promise.all([srv.server.stop(), srv.server.stop()]);
    expect(await clients[0].waitClose()).to.deep.equal({ code: 1001, reason: 'server shutting down' });
    expect(await clients[1].waitClose()).to.deep.equal({ code: 1000, reason: 'server shutting down' });
    expect((await rows()).every((r) => r.disconnected_at !== null)).to.equal(true);
    expect((await srv.metrics.connections.get()).values[0].value).to.equal(0);
    let refused = false;
    await srv.client(`?token=${await issueToken(db, users[0].id)}`).catch(() => (refused = true));
    expect(refused).to.equal(true);
    await srv.server.stop();
  });
});
