import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Database } from '../../src/db/index.js';
import { readTeampassSettings } from '../../src/teampass/index.js';
import { forEachBackend } from '../helpers/backends.js';
import { makeTeampassInstall } from '../helpers/teampass-install.js';
import {
  addApiSession,
  addFolder,
  addRole,
  assignRole,
  issueToken,
  seedUser,
  setTeampassSetting,
  tokenRow,
} from '../helpers/teampass-fixture.js';
import { PRECISE_CLOSE_CODES } from '../helpers/ws-client.js';
import { connected, useServerSuite } from './server-harness.js';

const now = () => Math.floor(Date.now() / 1000);
const CONFIG_SECRET = 'jwt-secret-from-config';

forEachBackend('serve: authentication over a real socket', (backend) => {
  const suite = useServerSuite(backend);
  let db: Database;
  beforeEach(() => {
    db = suite.db;
  });
  const start = suite.start;

  describe('websocket token', () => {
    it("answers TeamPass's connected frame, exactly, plus last_event_id and settled_event_id", async () => {
      const user = await seedUser(db, { login: 'alice', name: 'Alice', lastname: 'Martin' });
      const token = await issueToken(db, user.id);
      await start();
      const client = await suite.srv!.client(`?token=${token}`);
      const frame = await connected(client);
      expect(Object.keys(frame).sort()).to.deep.equal(['config', 'last_event_id', 'reconnect_token', 'server_time', 'settled_event_id', 'type', 'user_display_name', 'user_id', 'user_login']);
      expect(frame).to.deep.include({ type: 'connected', user_id: user.id, user_login: 'alice', user_display_name: 'Alice Martin', last_event_id: 0, settled_event_id: 0 });
      expect(frame.config).to.deep.equal({ ping_interval: 1 });
      expect(frame.server_time).to.be.within(now() - 5, now() + 5);
      expect(frame.reconnect_token).to.match(/^[a-f0-9]{64}$/).and.not.equal(token);
      expect(Number((await tokenRow(db, frame.reconnect_token as string))?.user_id)).to.equal(user.id);
    });

    it('accepts a reusable token several times, and the reconnect token too', async () => {
      const user = await seedUser(db);
      const token = await issueToken(db, user.id);
      await start();
      const first = await connected(await suite.srv!.client(`?token=${token}`));
      expect(first.type).to.equal('connected');
      expect((await connected(await suite.srv!.client(`?token=${token}`))).type).to.equal('connected');
      const again = await connected(await suite.srv!.client(`?token=${first.reconnect_token}`));
      expect(again).to.deep.include({ type: 'connected', user_id: user.id });
      expect(again.reconnect_token).not.to.equal(first.reconnect_token);
    });

    it('accepts a single-use token once (TeamPass 3.1), then refuses it with 4401', async () => {
      const user = await seedUser(db);
      const token = await issueToken(db, user.id);
      await start({ tokenMode: 'single_use' });
      const first = await connected(await suite.srv!.client(`?token=${token}`));
      expect(first.type).to.equal('connected');
      const second = await suite.srv!.client(`?token=${token}`, PRECISE_CLOSE_CODES);
      expect(await second.next()).to.deep.equal({
        type: 'error',
        error_code: 'auth_failed',
        message: 'Authentication failed: the token is unknown, expired or already used. Reload the TeamPass page for a new one.',
      });
      expect((await second.waitClose()).code).to.equal(4401);
      expect((await connected(await suite.srv!.client(`?token=${first.reconnect_token}`))).type, 'reconnect token').to.equal('connected');
    });

    for (const [title, setup] of [
      ['an expired token', async () => issueToken(db, (await seedUser(db)).id, { expiresInSec: -1 })],
      ['a disabled user', async () => issueToken(db, (await seedUser(db, { disabled: true })).id)],
      ['a deleted user', async () => issueToken(db, (await seedUser(db, { deleted: true })).id)],
      ['a logged-out user (key_tempo empty)', async () => issueToken(db, (await seedUser(db, { keyTempo: '' })).id)],
      ['an ended TeamPass session', async () => issueToken(db, (await seedUser(db, { sessionEndsInSec: -60 })).id)],
      ['an unknown token', async () => 'e'.repeat(64)],
      ['something that is neither token nor JWT', async () => 'hello'],
    ] as const) {
      it(`refuses ${title}: auth_failed, then 4401`, async () => {
        const token = await setup();
        await start();
        const client = await suite.srv!.client(`?token=${encodeURIComponent(token)}`, PRECISE_CLOSE_CODES);
        const frame = await client.next();
        expect(frame).to.include({ type: 'error', error_code: 'auth_failed' });
        expect(frame).not.to.have.property('request_id');
        expect((await client.waitClose()).code).to.equal(4401);
        expect(suite.srv!.server.directory.all()).to.be.empty;
      });
    }
  });

  describe('JWT', () => {
    const sign = (payload: object, secret: string) => jwt.sign(payload, secret, { algorithm: 'HS256' });

    it('accepts a JWT from jwt_secret in Authorization: Bearer, with claim id or sub', async () => {
      const user = await seedUser(db, { login: 'api' });
      await start({ config: { jwt_secret: CONFIG_SECRET } });
      for (const claims of [{ id: user.id }, { sub: String(user.id) }]) {
        const client = await suite.srv!.client('', { headers: { Authorization: `Bearer ${sign({ ...claims, exp: now() + 60 }, CONFIG_SECRET)}` } });
        const frame = await connected(client);
        expect(frame).to.deep.include({ type: 'connected', user_id: user.id, user_login: 'api' });
        expect(frame, 'no reconnect token for API clients').not.to.have.property('reconnect_token');
        expect((await client.request({ action: 'get_status' })).auth_method).to.equal('jwt');
      }
    });

    it('accepts a JWT in ?token= as TeamPass API clients send it', async () => {
      const user = await seedUser(db);
      await start({ config: { jwt_secret: CONFIG_SECRET } });
      const client = await suite.srv!.client(`?token=${sign({ id: user.id, exp: now() + 60 }, CONFIG_SECRET)}`);
      expect((await connected(client)).type).to.equal('connected');
    });

    it('checks TeamPass 3.2 API tokens: api_jwt_secret, aud, iss and the jti in api_sessions', async () => {
      await setTeampassSetting(db, 'api_jwt_secret', 'tp32-secret');
      await setTeampassSetting(db, 'cpassman_url', 'https://tp.example.test');
      const user = await seedUser(db);
      await addApiSession(db, { jti: 'live', userId: user.id });
      await addApiSession(db, { jti: 'revoked', userId: user.id, revoked: true });
      await start();
      const base = { id: user.id, exp: now() + 600, aud: 'teampass-api', iss: 'https://tp.example.test' };
      expect((await connected(await suite.srv!.client(`?token=${sign({ ...base, jti: 'live' }, 'tp32-secret')}`))).type).to.equal('connected');
      for (const bad of [{ ...base, jti: 'revoked' }, { ...base, jti: 'live', aud: 'other' }, { ...base, jti: 'live', iss: 'https://evil.test' }]) {
        const client = await suite.srv!.client(`?token=${sign(bad, 'tp32-secret')}`, PRECISE_CLOSE_CODES);
        expect(await client.next()).to.include({ type: 'error', error_code: 'auth_failed' });
        expect((await client.waitClose()).code).to.equal(4401);
      }
    });

    it("judges a TeamPass 3.2 API token by its api_sessions row, looked up by jti and user id, as TeamPass's API does", async () => {
      await setTeampassSetting(db, 'api_jwt_secret', 'tp32-secret');
      const [user, other] = [await seedUser(db), await seedUser(db)];
      await addApiSession(db, { jti: 'expired', userId: user.id, expiresInSec: -5 });
      await addApiSession(db, { jti: 'theirs', userId: other.id, revoked: true });
      await start();
      const token = (jti: string) => sign({ id: user.id, exp: now() + 600, aud: 'teampass-api', jti }, 'tp32-secret');
      const accepted = async (jti: string) => {
        const frame = await connected(await suite.srv!.client(`?token=${token(jti)}`));
        return frame.type === 'connected' ? true : String(frame.message);
      };
      expect(await accepted('no-row-yet'), 'a token issued before api_sessions existed is good until it expires').to.equal(true);
      expect(await accepted('theirs'), "another user's revoked row is not this token's").to.equal(true);
      expect(await accepted('expired'), 'a row past expires_at').to.match(/revoked or expired/);
    });

    it("checks TeamPass 3.1 API tokens with the DB_PASSWD string", async () => {
      const teampass = await readTeampassSettings(makeTeampassInstall({ version: '3.1', password: 'secret-db-pass' }));
      const user = await seedUser(db);
      await start({ teampass });
      const client = await suite.srv!.client(`?token=${sign({ id: user.id, exp: now() + 60 }, teampass.rawDbPasswd)}`);
      expect((await connected(client)).type).to.equal('connected');
    });

    it("accepts sub tokens signed with the misc jwt_secret row the PHP daemon used: exp required, allowed_folders narrows", async () => {
      await setTeampassSetting(db, 'jwt_secret', 'php-daemon-secret');
      const [a, b] = [await addFolder(db), await addFolder(db)];
      const user = await seedUser(db, { login: 'php-api' });
      await assignRole(db, user.id, await addRole(db, { [a]: 'W', [b]: 'W' }));
      await start();
      const client = await suite.srv!.client(`?token=${sign({ sub: String(user.id), exp: now() + 60, allowed_folders: [a] }, 'php-daemon-secret')}`);
      expect(await connected(client)).to.deep.include({ type: 'connected', user_id: user.id, user_login: 'php-api' });
      expect(await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: a } })).to.include({ action: 'subscribed', folder_id: a });
      expect(await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: b } })).to.include({ type: 'error', error_code: 'forbidden' });
      const noExp = await suite.srv!.client(`?token=${sign({ sub: String(user.id) }, 'php-daemon-secret')}`);
      expect(await noExp.next()).to.deep.include({ type: 'error', error_code: 'auth_failed', message: 'Authentication failed: the token has no exp claim.' });
    });

    it('refuses alg none and RS256 tokens', async () => {
      const user = await seedUser(db);
      await start({ config: { jwt_secret: CONFIG_SECRET } });
      const header = Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url');
      const body = Buffer.from(JSON.stringify({ id: user.id, exp: now() + 60 })).toString('base64url');
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      for (const token of [`${header}.${body}.`, jwt.sign({ id: user.id, exp: now() + 60 }, privateKey, { algorithm: 'RS256' })]) {
        const client = await suite.srv!.client('', { ...PRECISE_CLOSE_CODES, headers: { Authorization: `Bearer ${token}` } });
        const frame = await client.next();
        expect(frame).to.include({ type: 'error', error_code: 'auth_failed' });
        expect(frame.message).to.match(/only HS256/);
        expect((await client.waitClose()).code).to.equal(4401);
      }
    });

    it('narrows folder access to allowed_folders', async () => {
      const [a, b] = [await addFolder(db), await addFolder(db)];
      const user = await seedUser(db);
      await assignRole(db, user.id, await addRole(db, { [a]: 'W', [b]: 'W' }));
      await start({ config: { jwt_secret: CONFIG_SECRET } });
      const client = await suite.srv!.client(`?token=${sign({ id: user.id, exp: now() + 60, allowed_folders: String(a) }, CONFIG_SECRET)}`);
      await connected(client);
      expect(await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: a } })).to.include({ action: 'subscribed', folder_id: a });
      expect(await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: b } })).to.include({ type: 'error', error_code: 'forbidden' });
    });

    it('closes a JWT connection at its exp with session_expired and 4401', async () => {
      const user = await seedUser(db);
      await start({ config: { jwt_secret: CONFIG_SECRET, session_check_sec: 60 } });
      const client = await suite.srv!.client(`?token=${sign({ id: user.id, exp: now() + 2 }, CONFIG_SECRET)}`, PRECISE_CLOSE_CODES);
      expect((await connected(client)).type).to.equal('connected');
      const expired = await client.next((f) => f.type === 'event', 6000);
      expect(expired).to.deep.include({ type: 'event', event: 'session_expired' });
      expect(expired.data.reason).to.equal('token_expired');
      expect((await client.waitClose()).code).to.equal(4401);
    });
  });

  describe('first-message authentication', () => {
    it('authenticates with {"action":"authenticate"} and answers with the request id', async () => {
      const user = await seedUser(db);
      const token = await issueToken(db, user.id);
      await start();
      const client = await suite.srv!.client();
      client.send({ action: 'authenticate', token, request_id: 'req_auth' });
      expect(await connected(client)).to.deep.include({ type: 'connected', user_id: user.id, request_id: 'req_auth' });
    });

    it('answers messages sent before authentication completed, in order, after connected', async () => {
      const folder = await addFolder(db);
      const user = await seedUser(db);
      await assignRole(db, user.id, await addRole(db, { [folder]: 'W' }));
      const token = await issueToken(db, user.id);
      await start();
      const client = await suite.srv!.client();
      client.send({ action: 'ping', request_id: 'r1' });
      client.send({ action: 'authenticate', token });
      client.send({ action: 'subscribe', channel: 'folder', data: { folder_id: folder }, request_id: 'r2' });
      client.send({ action: 'get_status', request_id: 'r3' });
      const frames = [];
      for (let i = 0; i < 4; i++) frames.push(await client.next((f) => f.type !== 'ping'));
      expect(frames.map((f) => f.type)).to.deep.equal(['connected', 'pong', 'response', 'status']);
      expect(frames.map((f) => f.request_id)).to.deep.equal([undefined, 'r1', 'r2', 'r3']);
      expect(frames[3].subscriptions).to.deep.equal([`folder:${folder}`]);
    });

    it("queues what a TeamPass page sends right after the open while ?token= is being checked", async () => {
      const folder = await addFolder(db);
      const user = await seedUser(db);
      await grantFolderFor(db, user.id, folder);
      const token = await issueToken(db, user.id);
      await start();
      const client = await suite.srv!.client(`?token=${token}`);
      client.send({ action: 'subscribe', channel: 'folder', data: { folder_id: folder }, request_id: 'req_sub' });
      client.send({ action: 'ping', request_id: 'req_ping' });
      expect((await client.next((f) => f.type !== 'ping')).type).to.equal('connected');
      expect(await client.next((f) => f.type !== 'ping')).to.include({ type: 'response', action: 'subscribed', request_id: 'req_sub' });
      expect(await client.next((f) => f.type !== 'ping')).to.include({ type: 'pong', request_id: 'req_ping' });
    });

    it('closes with 4408 when no credential arrives within auth_timeout_sec', async () => {
      await start({ config: { auth_timeout_sec: 1 } });
      const client = await suite.srv!.client('', PRECISE_CLOSE_CODES);
      const frame = await client.next((f) => f.type === 'error', 4000);
      expect(frame.error_code).to.equal('auth_timeout');
      expect(frame.message).to.match(/No credential within 1 s/);
      expect((await client.waitClose()).code).to.equal(4408);
    });

    it('bounds the queue before authentication: an authenticate behind a flood is never read', async () => {
      const user = await seedUser(db);
      const token = await issueToken(db, user.id);
      await start({ config: { auth_timeout_sec: 2, rate_limit_messages: 10_000 } });
      const client = await suite.srv!.client('', PRECISE_CLOSE_CODES);
      for (let i = 0; i < 200; i++) client.send({ action: 'ping', request_id: `p${i}`, pad: 'x'.repeat(2000) });
      client.send({ action: 'authenticate', token });
      expect((await client.next((f) => f.type === 'error', 6000)).error_code).to.equal('auth_timeout');
      expect((await client.waitClose()).code).to.equal(4408);
    });

    it('refuses a bad first message token with auth_failed and 4401', async () => {
      await start();
      const client = await suite.srv!.client('', PRECISE_CLOSE_CODES);
      client.send({ action: 'authenticate', token: 'f'.repeat(64), request_id: 'a1' });
      expect(await client.next()).to.include({ type: 'error', error_code: 'auth_failed', request_id: 'a1' });
      expect((await client.waitClose()).code).to.equal(4401);
    });
  });
});

async function grantFolderFor(db: Database, userId: number, folderId: number): Promise<void> {
  await db.knex(db.t.usersGroups).insert({ user_id: userId, group_id: folderId });
}
