import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import type { Database } from '../../src/db/index.js';
import { forEachBackend } from '../helpers/backends.js';
import {
  addApiSession,
  createTeampassDatabase,
  issueToken,
  logout,
  revokeApiSession,
  seedUser,
  setTeampassSetting,
  updateUser,
  type SeededUser,
} from '../helpers/teampass-fixture.js';
import { PRECISE_CLOSE_CODES, type TestWsClient } from '../helpers/ws-client.js';
import { connected, startTestServer, waitFor, waitForLog, type TestServer } from './server-harness.js';

const now = () => Math.floor(Date.now() / 1000);

forEachBackend('serve: TeamPass session validity', (backend) => {
  let db: Database;
  let srv: TestServer;
  let user: SeededUser;

  beforeEach(async () => {
    db = await createTeampassDatabase(await backend().newDatabaseUrl());
    user = await seedUser(db);
    srv = await startTestServer(db, { config: { session_check_sec: 1, jwt_secret: 'cfg-secret' } });
  });
  afterEach(async () => {
    await srv.stop();
    await db.close();
  });

  /** Offers the subprotocol: these clients see 4401 when their session ends. */
  const open = async (): Promise<TestWsClient> => {
    const client = await srv.client(`?token=${await issueToken(db, user.id)}`, PRECISE_CLOSE_CODES);
    expect((await connected(client)).type).to.equal('connected');
    return client;
  };

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
