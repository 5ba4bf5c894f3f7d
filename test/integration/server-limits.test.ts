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

    it("defaults to cpassman_url's origin, scheme included, or the request's own origin; a cross-site page is refused", async () => {
      await setTeampassSetting(db, 'cpassman_url', 'https://vault.example.test/teampass');
      await start();
      const port = suite.srv!.server.port;
      const verdict = async (origin: string, headers: Record<string, string> = {}) => {
        const frame = await connected(await suite.srv!.client(`?token=${await login()}`, { origin, headers }));
        return frame.type === 'connected' ? 'accepted' : String(frame.error_code);
      };
      expect(await verdict('https://vault.example.test')).to.equal('accepted');
      for (const origin of ['http://vault.example.test', 'ws://vault.example.test', 'wss://vault.example.test', 'https://vault.example.test:8443']) {
        expect(await verdict(origin), `${origin} is another origin than https://vault.example.test`).to.equal('origin_not_allowed');
      }
      expect(await verdict(`http://127.0.0.1:${port}`), 'TeamPass reached by IP: same origin as the request').to.equal('accepted');
      expect(await verdict('https://evil.example'), 'cross-site').to.equal('origin_not_allowed');
      expect(await verdict(`https://127.0.0.1:${port}`), 'the daemon speaks plain http: an https page is not its own origin').to.equal('origin_not_allowed');
    });

    it('takes the same origin from X-Forwarded-Host and X-Forwarded-Proto of a trusted proxy only', async () => {
      await setTeampassSetting(db, 'cpassman_url', 'https://vault.example.test');
      const secondName = { 'X-Forwarded-Host': 'tp.intranet.test', 'X-Forwarded-Proto': 'https' };
      await start();
      const verdict = async (origin: string, headers: Record<string, string>) => {
        const frame = await connected(await suite.srv!.client(`?token=${await login()}`, { origin, headers }));
        return frame.type === 'connected' ? 'accepted' : String(frame.error_code);
      };
      expect(await verdict('https://tp.intranet.test', secondName), 'a second name behind the proxy').to.equal('accepted');
      expect(await verdict('http://tp.intranet.test', secondName), 'the scheme counts').to.equal('origin_not_allowed');
      expect(await verdict('https://evil.example', secondName)).to.equal('origin_not_allowed');
      expect(await verdict('http://tp.intranet.test', { Host: 'tp.intranet.test' }), 'Host header, no proxy headers: plain http').to.equal('accepted');
      expect(await verdict('https://vault.example.test', { Host: 'vault.example.test', 'X-Forwarded-Proto': 'https' })).to.equal('accepted');
      expect(await verdict('http://vault.example.test', { Host: 'vault.example.test', 'X-Forwarded-Proto': 'https' }), 'an http page of an https site').to.equal('origin_not_allowed');
    });

    it('does not believe X-Forwarded-Host from an untrusted peer', async () => {
      await start({ config: { trusted_proxies: [] } });
      const frame = await connected(
        await suite.srv!.client(`?token=${await login()}`, { origin: 'https://evil.example', headers: { 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https' } }),
      );
      expect(frame.error_code).to.equal('origin_not_allowed');
    });

    it('logs the first refusal of each origin as a warning naming allowed_origins, later ones at debug', async () => {
      await start();
      for (const origin of ['https://evil.example', 'https://evil.example', 'https://other.example']) {
        const frame = await connected(await suite.srv!.client(`?token=${await login()}`, { origin }));
        expect(frame.error_code).to.equal('origin_not_allowed');
      }
      await waitFor(() => suite.srv!.logs().filter((l) => l.message === 'Connection refused: origin not allowed').length === 3);
      const refusals = suite.srv!.logs().filter((l) => l.message === 'Connection refused: origin not allowed');
      expect(refusals.map((l) => [l.level, l.origin])).to.deep.equal([
        ['warn', 'https://evil.example'],
        ['debug', 'https://evil.example'],
        ['warn', 'https://other.example'],
      ]);
      expect(refusals[0].suggestion).to.contain('allowed_origins').and.contain('https://evil.example');
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

    /** `failures` bad tokens, each from the X-Forwarded-For value the function gives. */
    const fail = async (failures: number, forwardedFor: (i: number) => string) => {
      for (let i = 0; i < failures; i++) {
        const c = await suite.srv!.client(`?token=${'0'.repeat(64)}`, { headers: { 'X-Forwarded-For': forwardedFor(i) } });
        expect((await c.next()).error_code).to.equal('auth_failed');
        await c.waitClose();
      }
    };
    const verdict = async (forwardedFor: string) => {
      const frame = await connected(await suite.srv!.client(`?token=${await login()}`, { headers: { 'X-Forwarded-For': forwardedFor } }));
      return frame.type === 'connected' ? 'connected' : String(frame.error_code);
    };

    it('counts IPv6 clients per /64, so rotating addresses within one network does not escape the limit', async () => {
      await start();
      await fail(10, (i) => `2001:db8:1:2::${(i + 1).toString(16)}`);
      expect(await verdict('2001:db8:1:2:ffff:ffff:ffff:fffe')).to.equal('rate_limited');
      expect(await verdict('2001:DB8:1:2:0:0:0:abc'), 'any spelling of the same network').to.equal('rate_limited');
      expect(await verdict('2001:db8:1:3::1'), 'the next /64 is another client').to.equal('connected');
    });

    it('counts an IPv4 client as one whatever the spelling: dotted, IPv4-mapped, hex IPv4-mapped', async () => {
      await start();
      const spellings = ['203.0.113.7', '::ffff:203.0.113.7', '::ffff:cb00:7107', '0:0:0:0:0:ffff:cb00:7107'];
      await fail(10, (i) => spellings[i % spellings.length]);
      for (const spelling of spellings) expect(await verdict(spelling), spelling).to.equal('rate_limited');
      expect(await verdict('203.0.113.8')).to.equal('connected');
    });

    it('takes a last X-Forwarded-For hop that is not an address as an untrusted client, never as the loopback proxy', async () => {
      await start();
      await fail(10, () => 'unknown');
      expect(await verdict('unknown')).to.equal('rate_limited');
      expect(await verdict('203.0.113.9')).to.equal('connected');
      const line = suite.srv!.logs().find((l) => l.message === 'Authentication failed');
      expect(line?.ip).to.equal('unknown');
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

  describe('slow handshakes', () => {
    /** Resolves when the server closes the socket, or fails after `limitMs` (Node's defaults hold it for minutes). */
    const dropped = (socket: net.Socket, limitMs: number) =>
      new Promise<string>((resolve, reject) => {
        let reply = '';
        socket.on('data', (d) => (reply += d.toString()));
        const timer = setTimeout(() => reject(new Error(`the server still holds the connection after ${limitMs} ms`)), limitMs);
        socket.on('close', () => {
          clearTimeout(timer);
          resolve(reply);
        });
        socket.on('error', () => undefined);
      });

    it('drops a client that never finishes its upgrade headers after handshake_timeout_ms', async () => {
      await start({ config: { handshake_timeout_ms: 1000 } });
      const socket = net.connect(suite.srv!.server.port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      // A header line now and then, never the blank line that ends them.
      let n = 0;
      const trickle = setInterval(() => socket.writable && socket.write(`X-Slow-${n++}: x\r\n`), 200);
      try {
        await dropped(socket, 15_000);
      } finally {
        clearInterval(trickle);
        socket.destroy();
      }
      const other = await suite.srv!.client(`?token=${await login()}`);
      expect((await connected(other)).type, 'others still get in').to.equal('connected');
      await new Promise((r) => setTimeout(r, 2500));
      expect((await other.request({ action: 'ping' })).type, 'the limit is for the handshake only, not the upgraded connection').to.equal('pong');
    });

    it('drops a client that connects and sends nothing after silent_connection_timeout_ms, with a 408', async () => {
      await start({ config: { handshake_timeout_ms: 1000, silent_connection_timeout_ms: 2000 } });
      const socket = net.connect(suite.srv!.server.port, '127.0.0.1');
      try {
        expect(await dropped(socket, 15_000)).to.match(/^HTTP\/1\.1 408 /);
      } finally {
        socket.destroy();
      }
    });

    it('upgrades a client whose request begins after handshake_timeout_ms of silence, within silent_connection_timeout_ms (a request the kernel dropped and the client sent again)', async () => {
      await start({ config: { handshake_timeout_ms: 1000, silent_connection_timeout_ms: 6000 } });
      const token = await login();
      const socket = net.connect(suite.srv!.server.port, '127.0.0.1');
      let reply = '';
      socket.on('data', (d) => (reply += d.toString()));
      socket.on('error', () => undefined);
      try {
        await new Promise((resolve) => socket.once('connect', resolve));
        // Twice the handshake limit and more in silence: Node alone would have answered 408 by now.
        await new Promise((r) => setTimeout(r, 2500));
        expect(socket.destroyed, 'still connected after the silence').to.equal(false);
        socket.write(
          `GET /ws?token=${token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        );
        await waitFor(() => reply.includes('\r\n\r\n'), () => `an answer to the upgrade (so far: ${JSON.stringify(reply)})`);
        expect(reply).to.match(/^HTTP\/1\.1 101 /);
      } finally {
        socket.destroy();
      }
    });

    it('still gives a request begun after a silence only handshake_timeout_ms from its first byte', async () => {
      await start({ config: { handshake_timeout_ms: 1000, silent_connection_timeout_ms: 6000 } });
      const socket = net.connect(suite.srv!.server.port, '127.0.0.1');
      let trickle: NodeJS.Timeout | undefined;
      try {
        await new Promise((resolve) => socket.once('connect', resolve));
        await new Promise((r) => setTimeout(r, 1500));
        socket.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n');
        let n = 0;
        trickle = setInterval(() => socket.writable && socket.write(`X-Slow-${n++}: x\r\n`), 200);
        // Dropped well before the silent limit would have come (6 s after the connection).
        expect(await dropped(socket, 4000)).to.match(/^HTTP\/1\.1 408 /);
      } finally {
        clearInterval(trickle);
        socket.destroy();
      }
    });
  });

  describe('per-message checks, in the PHP order, the connection kept open', () => {
    it('message_too_large, invalid_json, unknown_action, rate_limited (pong exempt; unreadable frames count)', async () => {
      await start({ config: { max_message_size: 1024, rate_limit_messages: 5, rate_limit_window_ms: 60_000 } });
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

    it('counts invalid JSON and repeated authenticate frames toward the rate limit', async () => {
      await start({ config: { rate_limit_messages: 3, rate_limit_window_ms: 60_000 } });
      const garbage = await suite.srv!.client(`?token=${await login()}`);
      await connected(garbage);
      for (let i = 0; i < 3; i++) garbage.send('{not json');
      garbage.send({ action: 'ping', request_id: 'after-garbage' });
      expect((await garbage.next((f) => f.request_id === 'after-garbage')).error_code).to.equal('rate_limited');

      const token = await login();
      const again = await suite.srv!.client(`?token=${token}`);
      await connected(again);
      for (let i = 0; i < 3; i++) again.send({ action: 'authenticate', token });
      again.send({ action: 'ping', request_id: 'after-auth' });
      expect((await again.next((f) => f.request_id === 'after-auth')).error_code).to.equal('rate_limited');
      expect(again.isClosed).to.equal(false);
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
      await waitFor(() => [...suite.srv!.server.directory.all()].length === 0, 'the dead peer destroyed', 10_000);
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
