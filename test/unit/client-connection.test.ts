import { expect } from 'chai';
import { WebSocket } from 'ws';
import { TeamPassServerError, TeamPassWebSocket } from '../../src/client/teampass-websocket.js';
import type { SocketConstructor } from '../../src/client/types.js';
import { ClientHarness, clientFixture, quietLogger, TOKEN } from './client-harness.js';
import { waitFor } from '../helpers/wait.js';

describe('browser client: login, requests and events (real sockets)', () => {
  const fx = clientFixture({ reconnectInterval: 20 });

  it('logs in with ?token=, resolves connect() and calls onOpen at the server’s connected', async () => {
    const c = fx.client();
    let opened = 0;
    const connectedFrames: unknown[] = [];
    c.onOpen(() => opened++).on('connected', (m: unknown) => connectedFrames.push(m));
    await c.connect();
    const conn = await fx.server.connection(0);
    expect(conn.query.get('token')).to.equal(TOKEN);
    expect(conn.query.has('since'), 'no resume point on a first login').to.equal(false);
    expect(opened).to.equal(1);
    expect(c.isConnectedNow()).to.equal(true);
    expect(connectedFrames).to.have.length(1);
    expect(c.reconnectToken).to.match(/^01b+$/);
    expect(c.getLastEventId(), 'starts at the server’s newest event').to.equal(0);
  });

  it('reads TeamPassWebSocketUrl and TeamPassWebSocketToken from the page when no option names them', async () => {
    const page = globalThis as { TeamPassWebSocketUrl?: string; TeamPassWebSocketToken?: string };
    page.TeamPassWebSocketUrl = fx.server.url;
    page.TeamPassWebSocketToken = TOKEN;
    const c = new TeamPassWebSocket({ WebSocket: WebSocket as unknown as SocketConstructor, logger: quietLogger() });
    try {
      expect(c.url).to.equal(fx.server.url);
      expect(c.token).to.equal(TOKEN);
      await c.connect();
      expect((await fx.server.connection(0)).query.get('token')).to.equal(TOKEN);
    } finally {
      c.disconnect();
      delete page.TeamPassWebSocketUrl;
      delete page.TeamPassWebSocketToken;
    }
  });

  it('matches replies by request_id, rejects type:error with its error_code, and times out after requestTimeout', async () => {
    const quiet = new ClientHarness({ auto: false });
    await quiet.start();
    try {
      const c = fx.client({ url: quiet.url, requestTimeout: 300 });
      const connecting = c.connect();
      const conn = await quiet.connection(0);
      conn.send({ type: 'connected', user_id: 1, user_login: 'u', reconnect_token: 'c'.repeat(64), last_event_id: 3 });
      await connecting;

      const first = c.send({ action: 'get_status' });
      const second = c.send({ action: 'get_stats' });
      const [f1, f2] = await Promise.all([
        conn.nextFrame((f) => f.action === 'get_status'),
        conn.nextFrame((f) => f.action === 'get_stats'),
      ]);
      expect(f1.request_id).to.match(/^req_[a-z0-9]+$/);
      expect(f1.request_id).to.not.equal(f2.request_id);
      // Answered out of order: each promise gets its own reply.
      conn.send({ type: 'error', error_code: 'forbidden', message: 'Admins only', request_id: f2.request_id });
      conn.send({ type: 'status', connected: true, user_id: 1, request_id: f1.request_id });
      expect((await first).type).to.equal('status');
      const err = await second.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(TeamPassServerError);
      expect((err as TeamPassServerError).error_code).to.equal('forbidden');
      expect((err as TeamPassServerError).message).to.equal('Admins only');

      const started = Date.now();
      const unanswered = await c.send({ action: 'get_status' }).then(
        () => null,
        (e: Error) => e,
      );
      expect(unanswered?.message).to.equal('Request timeout');
      expect(Date.now() - started).to.be.at.least(250);
    } finally {
      await quiet.stop();
    }
  });

  it('answers the server’s ping with pong and pings every pingInterval itself', async () => {
    const c = fx.client({ pingInterval: 60 });
    await c.connect();
    const conn = await fx.server.connection(0);
    conn.send({ type: 'ping', timestamp: 1 });
    await conn.nextFrame((f) => f.action === 'pong');
    const ping = await conn.nextFrame((f) => f.action === 'ping');
    expect(ping.request_id).to.match(/^req_/);
    await waitFor(() => conn.framesWith('ping').length >= 3, 'three pings', 5000, 10);
  });

  it('dispatches each event to its handlers and to *, once per event_id', async () => {
    const c = fx.client();
    const created: unknown[] = [];
    const all: unknown[][] = [];
    const onCreated = (data: unknown, meta: unknown) => created.push([data, meta]);
    c.on('item_created', onCreated).on('*', (name: string, data: unknown) => all.push([name, data]));
    await c.connect();
    await c.subscribeToFolder(2);
    const conn = await fx.server.connection(0);
    const e = fx.server.publish('item_created', { item_id: 1, folder_id: 2, label: 'db' });
    fx.server.sendEvent(conn, e); // the same row again, as an overlapping replay would send it
    fx.server.publish('item_updated', { item_id: 1, folder_id: 2, label: 'db2' });
    await waitFor(() => all.some(([n]) => n === 'item_updated'), 'item_updated', 5000, 10);
    expect(created).to.deep.equal([[{ item_id: 1, folder_id: 2, label: 'db' }, { event: 'item_created', event_id: 1, timestamp: 1_700_000_001 }]]);
    expect(all.filter(([n]) => n === 'item_created')).to.have.length(1);
    expect(c.getLastEventId()).to.equal(2);

    c.off('item_created', onCreated);
    fx.server.publish('item_created', { item_id: 3 });
    await waitFor(() => all.filter(([n]) => n === 'item_created').length === 2, 'second item_created', 5000, 10);
    expect(created).to.have.length(1);
  });

  it('emits server_error for an error frame that answers no request', async () => {
    const c = fx.client();
    const errors: Array<{ error_code: string }> = [];
    c.on('server_error', (m: { error_code: string }) => errors.push(m));
    await c.connect();
    (await fx.server.connection(0)).send({ type: 'error', error_code: 'invalid_json', message: 'Invalid JSON' });
    await waitFor(() => errors.length === 1, 'server_error', 5000, 10);
    expect(errors[0].error_code).to.equal('invalid_json');
  });

  it('queues a subscription asked for while connecting and makes it at the login', async () => {
    const c = fx.client();
    const connecting = c.connect();
    const subscribed = c.subscribeToFolder(12);
    await connecting;
    const reply = await subscribed;
    expect(reply).to.include({ action: 'subscribed', folder_id: 12 });
    const conn = await fx.server.connection(0);
    expect(conn.framesWith('subscribe')).to.have.length(1);
    expect(c.getSubscriptions()).to.deep.equal(['folder:12']);
  });

  it('refuses requests before connect(), keeping the subscription for the next login', async () => {
    const c = fx.client();
    const err = await c.subscribeToFolder(5).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).to.equal('Not connected');
    await c.connect();
    const conn = await fx.server.connection(0);
    const sub = await conn.nextFrame((f) => f.action === 'subscribe');
    expect(sub.data).to.deep.equal({ folder_id: 5, since_event_id: 0 });
  });

  it('unsubscribes and forgets the folder, and subscribes to the KB channel', async () => {
    const c = fx.client();
    await c.connect();
    await c.subscribeToFolder(4);
    await c.subscribeToKb();
    expect(c.getSubscriptions()).to.deep.equal(['folder:4', 'kb:0']);
    const reply = await c.unsubscribeFromFolder(4);
    expect(reply).to.include({ action: 'unsubscribed', folder_id: 4 });
    expect(c.getSubscriptions()).to.deep.equal(['kb:0']);
    const conn = await fx.server.connection(0);
    expect(conn.framesWith('subscribe').map((f) => f.channel)).to.deep.equal(['folder', 'kb']);
  });

  it('keeps requests under maxMessagesPerSecond so a burst of subscribes is not rate limited', async () => {
    const c = fx.client({ maxMessagesPerSecond: 5 });
    await c.connect();
    const conn = await fx.server.connection(0);
    const arrivals: number[] = [];
    conn.socket.on('message', () => arrivals.push(Date.now()));
    const replies = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((id) => c.subscribeToFolder(id)));
    expect(replies.map((r) => r.folder_id)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (let i = 5; i < arrivals.length; i++) {
      // Paced: a second apart (less the event loop's jitter on a busy machine); unpaced, they would all arrive at once.
      expect(arrivals[i] - arrivals[i - 5], `request ${i + 1} came too soon after request ${i - 4}`).to.be.at.least(500);
    }
  });

  it('disconnect() closes with 1000, calls onClose, rejects what is pending and does not reconnect', async () => {
    const quiet = new ClientHarness({ auto: false });
    await quiet.start();
    try {
      const c = fx.client({ url: quiet.url });
      const closes: number[] = [];
      const reconnecting: unknown[] = [];
      c.onClose((e) => closes.push(e.code)).on('reconnecting', (r: unknown) => reconnecting.push(r));
      const connecting = c.connect();
      const conn = await quiet.connection(0);
      conn.send({ type: 'connected', user_id: 1, last_event_id: 0 });
      await connecting;
      const pending = c.send({ action: 'get_status' });
      await conn.nextFrame((f) => f.action === 'get_status');
      c.disconnect();
      const err = await pending.then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).to.equal('Disconnected by client');
      await waitFor(() => conn.closed && closes.length === 1, 'the close', 5000, 10);
      expect(closes).to.deep.equal([1000]);
      expect(reconnecting).to.deep.equal([]);
      expect(c.isConnectedNow()).to.equal(false);
    } finally {
      await quiet.stop();
    }
  });
});
