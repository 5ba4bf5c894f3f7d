import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import type { Database } from '../../src/db/index.js';
import { forEachBackend } from '../helpers/backends.js';
import {
  addApiSession,
  issueToken,
  logout,
  revokeApiSession,
  seedUser,
  setTeampassSetting,
  updateUser,
  type SeededUser,
} from '../helpers/teampass-fixture.js';
import { PRECISE_CLOSE_CODES, type TestWsClient } from '../helpers/ws-client.js';
import { connected, useServerSuite, waitFor, waitForLog, type TestServer } from './server-harness.js';

const now = () => Math.floor(Date.now() / 1000);

forEachBackend('serve: TeamPass session validity', (backend) => {
  const suite = useServerSuite(backend);
  let db: Database;
  let srv: TestServer;
  let user: SeededUser;

  beforeEach(async () => {
    db = suite.db;
    user = await seedUser(db);
    srv = await suite.start({ config: { session_check_sec: 1, jwt_secret: 'cfg-secret' } });
  });

  /** Offers the subprotocol: these clients see 4401 when their session ends. */
  const open = async (): Promise<TestWsClient> => {
    const client = await srv.client(`?token=${await issueToken(db, user.id)}`, PRECISE_CLOSE_CODES);
    expect((await connected(client)).type).to.equal('connected');
    return client;
  };

  it('never ends the session of a user who connects while a periodic check is reading the users', async function () {
    this.timeout(30_000);
    const others: SeededUser[] = [];
    for (let i = 0; i < 60; i++) others.push(await seedUser(db));
    const tokens = await Promise.all(others.map((u) => issueToken(db, u.id)));
    const clients: TestWsClient[] = [];
    // Connections arrive in bursts for a few seconds, across several checks (session_check_sec 1).
    for (let burst = 0; burst < 6; burst++) {
      clients.push(...(await Promise.all(tokens.slice(burst * 10, burst * 10 + 10).map((token) => srv.client(`?token=${token}`)))));
      await new Promise((r) => setTimeout(r, 330));
    }
    await new Promise((r) => setTimeout(r, 1100));
    const ended = clients.filter((c) => c.received.some((f) => f.event === 'session_expired'));
    expect(ended.map((c) => c.received[0]), 'sessions ended by mistake').to.deep.equal([]);
    expect(clients.every((c) => c.received.some((f) => f.type === 'connected'))).to.equal(true);
  });

  /** The session_expired event, then 4401, within a couple of checks. */
  const expectEnded = async (client: TestWsClient, reason: string) => {
    const frame = await client.next((f) => f.type === 'event', 5000);
    expect(frame).to.deep.include({ type: 'event', event: 'session_expired' });
    expect(frame.data.reason).to.equal(reason);
    expect((await client.waitClose()).code).to.equal(4401);
  };

  it('ends every connection of a user who logged out (key_tempo cleared) within session_check_sec', async () => {
    const [a, b] = [await open(), await open()];
    await logout(db, user.id);
    await expectEnded(a, 'logged_out');
    await expectEnded(b, 'logged_out');
    await waitFor(() => [...srv.server.directory.byUser(user.id)].length === 0);
    await waitForLog(srv, (l) => l.message === 'Session over: connection closed' && l.reason === 'logged_out');
  });

  it('ends a connection whose TeamPass session was replaced by a new login', async () => {
    const client = await open();
    await updateUser(db, user.id, { key_tempo: 'another-login' });
    await expectEnded(client, 'session_replaced');
  });

  it('ends a connection when session_end passes', async () => {
    const client = await open();
    await updateUser(db, user.id, { session_end: String(now() - 1) });
    await expectEnded(client, 'session_timeout');
  });

  it('ends connections of a disabled or deleted account', async () => {
    const client = await open();
    await updateUser(db, user.id, { disabled: 1 });
    await expectEnded(client, 'account_disabled');
    await updateUser(db, user.id, { disabled: 0 });
    const again = await open();
    await db.knex(db.t.users).where({ id: user.id }).delete();
    await expectEnded(again, 'account_deleted');
  });

  it('keeps an API (JWT) connection through a browser logout, ends it when its api session is revoked', async () => {
    await setTeampassSetting(db, 'api_jwt_secret', 'tp-secret');
    await addApiSession(db, { jti: 'sess-1', userId: user.id });
    const token = jwt.sign({ id: user.id, exp: now() + 600, aud: 'teampass-api', jti: 'sess-1' }, 'tp-secret', { algorithm: 'HS256' });
    const api = await srv.client(`?token=${token}`, PRECISE_CLOSE_CODES);
    expect((await connected(api)).type).to.equal('connected');
    await logout(db, user.id);
    expect(await api.none((f) => f.type === 'event', 2500), `frames: ${JSON.stringify(api.received)}`).to.equal(true);
    await revokeApiSession(db, 'sess-1');
    await expectEnded(api, 'token_revoked');
    await waitForLog(srv, (l) => l.message === 'API token revoked: connection closed');
  });

  it("ends an API (JWT) connection when its api session row's expires_at passes, before the token's exp", async () => {
    await setTeampassSetting(db, 'api_jwt_secret', 'tp-secret');
    await addApiSession(db, { jti: 'short', userId: user.id, expiresInSec: 2 });
    const token = jwt.sign({ id: user.id, exp: now() + 600, aud: 'teampass-api', jti: 'short' }, 'tp-secret', { algorithm: 'HS256' });
    const api = await srv.client(`?token=${token}`, PRECISE_CLOSE_CODES);
    expect((await connected(api)).type).to.equal('connected');
    await expectEnded(api, 'token_revoked');
  });

  it('closes the user connections with 4401 when the bridge reports session_expired', async () => {
    const client = await open();
    srv.server.hooks.sessionExpired(user.id, 'session_timeout');
    expect((await client.waitClose()).code).to.equal(4401);
  });

  it("gives a client that did not offer the subprotocol (TeamPass's page) session_expired, then 1000", async () => {
    const client = await srv.client(`?token=${await issueToken(db, user.id)}`);
    expect((await connected(client)).type).to.equal('connected');
    await logout(db, user.id);
    const frame = await client.next((f) => f.type === 'event', 5000);
    expect(frame).to.deep.include({ type: 'event', event: 'session_expired' });
    expect((await client.waitClose()).code).to.equal(1000);
  });

  it('leaves other users alone', async () => {
    const other = await seedUser(db);
    const mine = await open();
    const theirs = await srv.client(`?token=${await issueToken(db, other.id)}`, PRECISE_CLOSE_CODES);
    await connected(theirs);
    await logout(db, other.id);
    await expectEnded(theirs, 'logged_out');
    expect(mine.isClosed).to.equal(false);
    expect((await mine.request({ action: 'ping' })).type).to.equal('pong');
  });
});
