import { expect } from 'chai';
import net from 'node:net';
import type { Database } from '../../src/db/index.js';
import { forEachBackend } from '../helpers/backends.js';
import { issueToken, seedUser, setTeampassSetting, tokenRow } from '../helpers/teampass-fixture.js';
import { PRECISE_CLOSE_CODES } from '../helpers/ws-client.js';
import { connected, useServerSuite, waitFor, waitForLog } from './server-harness.js';

forEachBackend('serve: limits and refusals over a real socket', (backend) => {
  const suite = useServerSuite(backend);
  let db: Database;
  beforeEach(() => {
    db = suite.db;
  });
  const start = suite.start;
  const login = async () => issueToken(db, (await seedUser(db)).id);

  describe('origin', () => {
    it('refuses a foreign Origin with 4403 before any database work', async () => {
      const token = await login();
      await start({ tokenMode: 'single_use', config: { allowed_origins: ['https://teampass.example.test'] } });
      const client = await suite.srv!.client(`?token=${token}`, { ...PRECISE_CLOSE_CODES, origin: 'https://evil.example' });
      const frame = await client.next();
      expect(frame).to.include({ type: 'error', error_code: 'origin_not_allowed' });
      expect(frame.message).to.contain('https://evil.example');
      expect((await client.waitClose()).code).to.equal(4403);
      expect(Number((await tokenRow(db, token))?.used), 'the single-use token was not even read').to.equal(0);
      expect(await db.knex(db.t.connections).count({ n: '*' }).first()).to.deep.include({ n: 0 });
    });

    it('accepts allowed_origins given as a full origin or a bare host', async () => {
      await start({ config: { allowed_origins: ['https://teampass.example.test', 'other.example.test:8443'] } });
      for (const origin of ['https://teampass.example.test', 'https://other.example.test:8443']) {
        expect((await connected(await suite.srv!.client(`?token=${await login()}`, { origin }))).type, origin).to.equal('connected');
      }
      const refused = await suite.srv!.client(`?token=${await login()}`, { origin: 'http://teampass.example.test' });
      expect((await refused.next()).error_code, 'scheme matters for a full origin').to.equal('origin_not_allowed');
    });

    it("defaults to the host of TeamPass's cpassman_url", async () => {
      await setTeampassSetting(db, 'cpassman_url', 'https://vault.example.test/teampass');
      await start();
      expect((await connected(await suite.srv!.client(`?token=${await login()}`, { origin: 'https://vault.example.test' }))).type).to.equal('connected');
      const refused = await suite.srv!.client(`?token=${await login()}`, { origin: `http://127.0.0.1:${suite.srv!.server.port}` });
      expect((await refused.next()).error_code).to.equal('origin_not_allowed');
    });

    it('without allowed_origins or cpassman_url, accepts only the same host as the request', async () => {
      await start();
      const same = await suite.srv!.client(`?token=${await login()}`, { origin: `http://127.0.0.1:${suite.srv!.server.port}` });
      expect((await connected(same)).type).to.equal('connected');
      const other = await suite.srv!.client(`?token=${await login()}`, { ...PRECISE_CLOSE_CODES, origin: 'http://attacker.example' });
      expect((await other.next()).error_code).to.equal('origin_not_allowed');
      expect((await other.waitClose()).code).to.equal(4403);
    });

    it('lets clients without an Origin header (API clients, TeamPass admin panel) through', async () => {
      await start({ config: { allowed_origins: ['https://teampass.example.test'] } });
      expect((await connected(await suite.srv!.client(`?token=${await login()}`))).type).to.equal('connected');
    });
  });

  describe('max_connections_per_user', () => {
    it('answers max_connections in-band, then closes with 4429', async () => {
      const user = await seedUser(db);
      const token = await issueToken(db, user.id);
      await start({ config: { max_connections_per_user: 2 } });
      const open = [await suite.srv!.client(`?token=${token}`), await suite.srv!.client(`?token=${token}`)];
      for (const c of open) expect((await connected(c)).type).to.equal('connected');
      const third = await suite.srv!.client(`?token=${token}`, PRECISE_CLOSE_CODES);
      expect(await third.next()).to.deep.equal({ type: 'error', error_code: 'max_connections', message: 'Maximum 2 simultaneous connections per user.' });
      expect((await third.waitClose()).code).to.equal(4429);
      await open[0].close();
      await waitFor(() => [...suite.srv!.server.directory.byUser(user.id)].length === 1);
      expect((await connected(await suite.srv!.client(`?token=${token}`))).type, 'a slot freed').to.equal('connected');
    });
  });

  describe('failed authentications per address', () => {
    it('blocks an address behind a trusted proxy after 10 failures, valid token or not', async () => {
      await start();
      const headers = { 'X-Forwarded-For': '203.0.113.7' };
      for (let i = 0; i < 10; i++) {
        const c = await suite.srv!.client(`?token=${'0'.repeat(64)}`, { headers });
        expect((await c.next()).error_code).to.equal('auth_failed');
        await c.waitClose();
      }
      const blocked = await suite.srv!.client(`?token=${await login()}`, { ...PRECISE_CLOSE_CODES, headers });
      expect(await blocked.next()).to.deep.equal({ type: 'error', error_code: 'rate_limited', message: 'Too many failed authentication attempts. Wait a minute before trying again.' });
      expect((await blocked.waitClose()).code).to.equal(4429);
      const otherClient = await suite.srv!.client(`?token=${await login()}`, { headers: { 'X-Forwarded-For': '203.0.113.8' } });
      expect((await connected(otherClient)).type, 'another address is not affected').to.equal('connected');
    });

    it('never blocks loopback, and ignores X-Forwarded-For from an untrusted peer', async () => {
      await start({ config: { trusted_proxies: [] } });
      for (let i = 0; i < 12; i++) {
        const c = await suite.srv!.client(`?token=${'0'.repeat(64)}`, { headers: { 'X-Forwarded-For': '203.0.113.9' } });
        expect((await c.next()).error_code).to.equal('auth_failed');
        await c.waitClose();
      }
      const ok = await suite.srv!.client(`?token=${await login()}`, { headers: { 'X-Forwarded-For': '203.0.113.9' } });
      expect((await connected(ok)).type).to.equal('connected');
    });
  });

  describe('per-message checks, in the PHP order, the connection kept open', () => {
    it('message_too_large, invalid_json, unknown_action, rate_limited (pong exempt)', async () => {
      await start({ config: { max_message_size: 1024, rate_limit_messages: 3, rate_limit_window_ms: 60_000 } });
      const client = await suite.srv!.client(`?token=${await login()}`);
      await connected(client);
      client.send(JSON.stringify({ action: 'ping', request_id: 'big', pad: 'x'.repeat(2000) }));
      expect(await client.next((f) => f.type === 'error')).to.deep.equal({ type: 'error', error_code: 'message_too_large', message: 'Message exceeds maximum size of 1024 bytes.' });
      client.send('{not json');
      expect(await client.next((f) => f.type === 'error')).to.deep.equal({ type: 'error', error_code: 'invalid_json', message: 'Message must be valid JSON.' });
      client.send({ action: 'fly', request_id: 'u1' });
      expect(await client.next((f) => f.type === 'error')).to.deep.equal({ type: 'error', error_code: 'unknown_action', message: "Action 'fly' is not recognized.", request_id: 'u1' });
      for (let i = 1; i <= 3; i++) client.send({ action: 'ping', request_id: `p${i}` });
      client.send({ action: 'pong' });
      client.send({ action: 'ping', request_id: 'p4' });
      for (let i = 1; i <= 3; i++) expect(await client.next((f) => f.request_id === `p${i}`)).to.include({ type: 'pong' });
      expect(await client.next((f) => f.request_id === 'p4')).to.deep.equal({ type: 'error', error_code: 'rate_limited', message: 'Too many requests, please slow down.', request_id: 'p4' });
      client.send({ action: 'fly', request_id: 'u2' });
      expect((await client.next((f) => f.request_id === 'u2')).error_code, 'unknown_action comes before the rate limit').to.equal('unknown_action');
      expect(client.isClosed).to.equal(false);
    });

    it('starts a new window after rate_limit_window_ms', async () => {
      await start({ config: { rate_limit_messages: 2, rate_limit_window_ms: 300 } });
      const client = await suite.srv!.client(`?token=${await login()}`);
      await connected(client);
      for (const id of ['a', 'b', 'c']) client.send({ action: 'ping', request_id: id });
      expect((await client.next((f) => f.request_id === 'c')).error_code).to.equal('rate_limited');
      await new Promise((r) => setTimeout(r, 400));
      expect((await client.request({ action: 'ping', request_id: 'd' })).type).to.equal('pong');
    });

    it('counts a sliding window over allowed messages: a burst across a window boundary cannot pass twice the limit', async () => {
      await start({ config: { rate_limit_messages: 4, rate_limit_window_ms: 1000 } });
      const client = await suite.srv!.client(`?token=${await login()}`);
      await connected(client);
      const burst = async (prefix: string, count: number) => {
        for (let i = 0; i < count; i++) client.send({ action: 'ping', request_id: `${prefix}${i}` });
        const replies = [];
        for (let i = 0; i < count; i++) replies.push(await client.next((f) => f.request_id === `${prefix}${i}`));
        return replies.filter((f) => f.type === 'pong').length;
      };
      expect(await burst('a', 1)).to.equal(1);
      await new Promise((r) => setTimeout(r, 500));
      expect(await burst('b', 3)).to.equal(3);
      // A fixed window opened by the first message has just ended: it would let all 4 through,
      // 7 messages within ~550 ms. The last second holds 3 allowed messages: only one more.
      await new Promise((r) => setTimeout(r, 550));
      expect(await burst('c', 4)).to.equal(1);
    });

    it('closes with 1009 on a frame over max_frame_bytes', async () => {
      await start({ config: { max_frame_bytes: 4096, max_message_size: 1024 } });
      const client = await suite.srv!.client(`?token=${await login()}`, PRECISE_CLOSE_CODES);
      await connected(client);
      client.send(JSON.stringify({ action: 'ping', pad: 'y'.repeat(8000) }));
      expect((await client.waitClose()).code).to.equal(1009);
    });

    it('answers invalid_request for wrong-typed fields and keeps going', async () => {
      await start();
      const client = await suite.srv!.client(`?token=${await login()}`);
      await connected(client);
      const cases: Array<[unknown, RegExp]> = [
        [{ action: 'unsubscribe', channel: 'folder', data: { folder_id: 'abc' } }, /^data\.folder_id must be a positive integer id/],
        [{ action: 'unsubscribe', channel: 'folder', data: { folder_id: [3] } }, /data\.folder_id/],
        [{ action: 'subscribe', channel: 'folder', data: { folder_id: 3, since_event_id: 'x' } }, /data\.since_event_id/],
        [{ action: 'start_item_view', data: { item_id: { a: 1 } } }, /data\.item_id/],
        ['{"action":"get_status","data":{"__proto__":{"isAdmin":true}}}', /^data\.__proto__ is not an allowed key/],
      ];
      for (const [i, [message, expected]] of cases.entries()) {
        const requestId = `bad${i}`;
        client.send(typeof message === 'string' ? message.replace('{"action"', `{"request_id":"${requestId}","action"`) : { ...(message as object), request_id: requestId });
        const frame = await client.next((f) => f.request_id === requestId);
        expect(frame).to.include({ type: 'error', error_code: 'invalid_request' });
        expect(frame.message).to.match(expected);
      }
      expect((await client.request({ action: 'ping' })).type).to.equal('pong');
    });
  });

  describe('heartbeat', () => {
    it("sends TeamPass's ping frame every ping_interval_sec", async () => {
      await start();
      const client = await suite.srv!.client(`?token=${await login()}`);
      await connected(client);
      const ping = await client.next((f) => f.type === 'ping', 4000);
      expect(Object.keys(ping).sort()).to.deep.equal(['timestamp', 'type']);
    });

    it('closes a client silent past pong_timeout_sec with 1000, as the PHP daemon; one answering ws pings stays', async () => {
      await start({ config: { pong_timeout_sec: 2 } });
      const silent = await suite.srv!.client(`?token=${await login()}`, { autoPong: false });
      const precise = await suite.srv!.client(`?token=${await login()}`, { ...PRECISE_CLOSE_CODES, autoPong: false });
      const alive = await suite.srv!.client(`?token=${await login()}`);
      await connected(silent);
      await connected(precise);
      await connected(alive);
      expect(await silent.waitClose(8000)).to.deep.equal({ code: 1000, reason: 'heartbeat timeout' });
      expect(await precise.waitClose(8000)).to.deep.equal({ code: 1000, reason: 'heartbeat timeout' });
      expect(alive.isClosed).to.equal(false);
      await waitForLog(suite.srv!, (l) => l.message === 'Silent connection closed');
    });

    it('destroys a silent client that does not answer the close either', async () => {
      await start({ config: { pong_timeout_sec: 1 } });
      const dead = await suite.srv!.client(`?token=${await login()}`);
      await connected(dead);
      // Reading nothing, it answers neither the pings nor the close frame.
      dead.pauseReading();
      await waitFor(() => [...suite.srv!.server.directory.all()].length === 0, 10_000);
      expect(dead.isClosed, 'the client never read a close frame').to.equal(false);
    });
  });

  describe('upgrade paths', () => {
    it('upgrades on any path, as Ratchet does, except the HTTP routes', async () => {
      await start();
      const { connect } = await import('../helpers/ws-client.js');
      const base = `ws://127.0.0.1:${suite.srv!.server.port}`;
      for (const path of ['/ws', '/', '/ws/', '/websocket', '/teampass/ws', '/other/path/']) {
        const client = await connect(`${base}${path}?token=${await login()}`);
        expect((await connected(client)).type, path).to.equal('connected');
        await client.close();
      }
      for (const path of ['/healthz', '/metrics', '/client/teampass-websocket.js', '/demo', '/demo/emit']) {
        const refused = await connect(`${base}${path}?token=${await login()}`).then(
          () => 'upgraded',
          (err: Error) => err.message,
        );
        expect(refused, path).to.equal('upgrade refused: HTTP 400');
      }
    });

    it('answers plain HTTP with 404 JSON, and 426 on the websocket path', async () => {
      await start();
      const base = `http://127.0.0.1:${suite.srv!.server.port}`;
      const missing = await fetch(`${base}/nothing`);
      expect(missing.status).to.equal(404);
      expect(((await missing.json()) as { error: string }).error).to.equal('not_found');
      expect((await fetch(`${base}/ws`)).status).to.equal(426);
    });

    it('tries extra routes in order before answering 404', async () => {
      await start({
        routes: [
          (req, res) => {
            if (req.url !== '/hello') return false;
            res.end('hi');
            return true;
          },
        ],
      });
      expect(await (await fetch(`http://127.0.0.1:${suite.srv!.server.port}/hello`)).text()).to.equal('hi');
    });
  });

  describe('a raw TCP peer', () => {
    it('does not crash the daemon with garbage instead of an upgrade', async () => {
      await start();
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        const socket = net.connect(suite.srv!.server.port, '127.0.0.1', () => socket.write('GARBAGE\r\n\r\n'));
        socket.on('data', (d: Buffer) => (text += d.toString()));
        socket.on('close', () => resolve(text));
        socket.on('error', () => resolve(text));
      });
      expect(answer).to.match(/^HTTP\/1\.1 400/);
      expect((await connected(await suite.srv!.client(`?token=${await login()}`))).type).to.equal('connected');
    });
  });
});
