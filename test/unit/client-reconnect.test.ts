import { expect } from 'chai';
import type { AuthFailedInfo } from '../../src/client/types.js';
import { ClientHarness, clientFixture, TOKEN } from './client-harness.js';
import { waitFor } from '../helpers/wait.js';

describe('browser client: reconnecting (real sockets)', () => {
  const fx = clientFixture({ reconnectInterval: 20, reconnectJitter: 0 });

  it('comes back after a daemon restart with the reconnect_token and ?since=, and gets what it missed once, in order', async () => {
    const c = fx.client();
    const received: Array<[string, number | null]> = [];
    c.on('*', (name: string, _data: unknown, meta?: { event_id: number | null }) => {
      if (meta) received.push([name, meta.event_id]);
    });
    await c.connect();
    await c.subscribeToFolder(3);
    fx.server.publish('item_created', { folder_id: 3 });
    await waitFor(() => received.length === 1, 'the first event', 5000, 10);
    const firstToken = c.reconnectToken;

    await fx.server.stop();
    // Written while the daemon is down: nobody to deliver them to until the client is back.
    fx.server.publish('item_updated', { folder_id: 3 }, { live: false });
    fx.server.publish('task_progress', { percent: 50 }, { live: false });
    fx.server.publish('item_updated', { folder_id: 9 }, { live: false });
    fx.server.publish('item_deleted', { folder_id: 3 }, { live: false });
    await fx.server.start();

    const back = await waitFor(() => fx.server.connections.find((conn, i) => i > 0 && conn.authenticated), 'the reconnect', 10_000, 10);
    expect(back.query.get('token'), 'logs in with the reconnect_token, not the page token').to.equal(firstToken);
    expect(back.query.get('since')).to.equal('1');
    const resubscribe = await back.nextFrame((f) => f.action === 'subscribe');
    expect(resubscribe.data).to.deep.equal({ folder_id: 3, since_event_id: 1 });
    // The login replays the user event (3) first, the resubscribe then the folder's (2, 3 again, 5):
    // the client hands them over in the order they were written, once each.
    await waitFor(() => received.length === 4, 'the missed events', 5000, 10);
    fx.server.sendEvent(back, fx.server.events[4]);
    fx.server.publish('item_created', { folder_id: 3 });
    await waitFor(() => received.length === 5, 'the live event', 5000, 10);
    expect(received).to.deep.equal([
      ['item_created', 1],
      ['item_updated', 2],
      ['task_progress', 3],
      ['item_deleted', 5],
      ['item_created', 6],
    ]);
    expect(c.getLastEventId()).to.equal(6);
  });

  it('takes a live event that arrives in the same read as the last resubscribe reply as live: its watermark moves the resume point', async () => {
    const c = fx.client();
    const received: number[] = [];
    c.on('*', (_name: string, _data: unknown, meta?: { event_id: number | null }) => {
      if (meta?.event_id != null) received.push(meta.event_id);
    });
    fx.server.publish('item_created', { folder_id: 3 });
    fx.server.onFrame((_conn, f) => {
      // Sent right after the reply, in the same tick: the client reads both from one chunk.
      if (f.action === 'subscribe' && typeof f.data?.since_event_id === 'number') fx.server.publish('item_updated', { folder_id: 3 });
    });
    const connecting = c.connect();
    // Made at the login, with since: the login's sync ends with this subscribe's reply.
    const subscribed = c.subscribeToFolder(3);
    await connecting;
    await subscribed;
    await waitFor(() => received.includes(2), 'the live event', 5000, 10);
    expect(received).to.deep.equal([2]);
    // Every id up to 2 was sent (the live frame says so): a reconnect resumes after it.
    expect(c.getLastEventId()).to.equal(2);
  });

  it('subscribes on a first login from the server’s newest event, and later subscriptions without replay', async () => {
    fx.server.publish('item_created', { folder_id: 3 });
    fx.server.publish('item_created', { folder_id: 3 });
    const c = fx.client();
    const connecting = c.connect();
    void c.subscribeToFolder(3);
    await connecting;
    const conn = await fx.server.connection(0);
    const first = await conn.nextFrame((f) => f.action === 'subscribe');
    expect(first.data).to.deep.equal({ folder_id: 3, since_event_id: 2 });
    await c.subscribeToFolder(4);
    const later = await conn.nextFrame((f) => f.action === 'subscribe' && f.data?.folder_id === 4);
    expect(later.data).to.deep.equal({ folder_id: 4 });
  });

  it('resubscribes each subscription exactly once, even when onOpen asks for it again', async () => {
    const c = fx.client();
    // TeamPass's own page subscribes its current folder again in onOpen.
    c.onOpen(() => void c.subscribeToFolder(3).catch(() => undefined));
    await c.connect();
    await c.subscribeToFolder(3);
    await c.subscribeToFolder(8);
    await c.subscribeToKb();
    const first = await fx.server.connection(0);
    first.socket.terminate();
    const second = await fx.server.connection(1);
    await waitFor(() => second.framesWith('subscribe').length >= 3, 'the resubscribes', 5000, 10);
    await c.send({ action: 'get_status' });
    const subs = second.framesWith('subscribe').map((f) => (f.channel === 'kb' ? 'kb:0' : `folder:${String(f.data?.folder_id)}`));
    expect(subs.sort()).to.deep.equal(['folder:3', 'folder:8', 'kb:0']);
  });

  it('remembers subscriptions a page made with send() itself, and drops refused ones', async () => {
    const c = fx.client();
    await c.connect();
    await c.send({ action: 'subscribe', channel: 'kb', data: {} });
    const first = await fx.server.connection(0);
    fx.server.forbiddenFolders.add(66);
    const refused = await c.send({ action: 'subscribe', channel: 'folder', data: { folder_id: 66 } }).catch((e: { error_code?: string }) => e);
    expect(refused).to.include({ error_code: 'forbidden' });
    expect(c.getSubscriptions()).to.deep.equal(['kb:0']);
    first.socket.terminate();
    const second = await fx.server.connection(1);
    const resubscribe = await second.nextFrame((m) => m.action === 'subscribe');
    expect(resubscribe.channel).to.equal('kb');
    await c.send({ action: 'get_status' });
    expect(second.framesWith('subscribe')).to.have.length(1);
  });

  it('backs off 1.5× per attempt up to the cap, then gives up with reconnect_failed', async () => {
    const c = fx.client({ reconnectInterval: 20, maxReconnectDelay: 60, maxReconnectAttempts: 5 });
    const delays: number[] = [];
    const failed: unknown[] = [];
    c.onReconnecting((_attempt, delay) => delays.push(delay)).on('reconnect_failed', (d: unknown) => failed.push(d));
    await c.connect();
    await fx.server.stop();
    await waitFor(() => failed.length === 1, 'reconnect_failed', 10_000, 10);
    expect(delays).to.deep.equal([20, 30, 45, 60, 60]);
    expect(failed).to.deep.equal([{ attempts: 5 }]);
    expect(fx.server.connections).to.have.length(1);
  });

  it('applies jitter to the delays', async () => {
    const c = fx.client({ reconnectInterval: 40, reconnectJitter: 0.5, random: () => 1, maxReconnectAttempts: 2 });
    const delays: number[] = [];
    c.onReconnecting((_attempt, delay) => delays.push(delay));
    await c.connect();
    await fx.server.stop();
    await waitFor(() => delays.length === 2, 'two attempts', 5000, 10);
    expect(delays).to.deep.equal([20, 30]);
  });

  it('counts attempts until a login succeeds, not until a socket opens', async () => {
    const rude = new ClientHarness({ auto: false });
    await rude.start();
    try {
      const c = fx.client({ url: rude.url, maxReconnectAttempts: 3 });
      const failed: unknown[] = [];
      c.on('reconnect_failed', (d: unknown) => failed.push(d));
      c.connect().catch(() => undefined);
      // Every socket opens, then the server closes it before any login.
      const closer = setInterval(() => {
        for (const conn of rude.connections) if (!conn.closed) conn.socket.close(1011, 'Internal error');
      }, 5);
      try {
        await waitFor(() => failed.length === 1, 'reconnect_failed', 10_000, 10);
      } finally {
        clearInterval(closer);
      }
      expect(rude.connections).to.have.length(4);
    } finally {
      await rude.stop();
    }
  });

  it('stops after close 4401 at login and emits auth_failed instead of retrying', async () => {
    const c = fx.client({ token: 'f'.repeat(64) });
    const failures: AuthFailedInfo[] = [];
    const reconnecting: unknown[] = [];
    c.on('auth_failed', (info: AuthFailedInfo) => failures.push(info)).on('reconnecting', (r: unknown) => reconnecting.push(r));
    const err = await c.connect().then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/Connection closed before login \(code 4401/);
    await waitFor(() => failures.length === 1, 'auth_failed', 5000, 10);
    expect(failures[0]).to.deep.equal({ code: 4401, reason: 'Authentication failed', error_code: 'auth_failed', message: 'Authentication failed', session_ended: false });
    expect(reconnecting, 'no retry is scheduled').to.deep.equal([]);
    await new Promise((r) => setTimeout(r, 200));
    expect(fx.server.connections).to.have.length(1);
  });

  it('stops when the server ends the TeamPass session (session_expired, then 4401)', async () => {
    const c = fx.client();
    const failures: AuthFailedInfo[] = [];
    const expired: unknown[] = [];
    const reconnecting: unknown[] = [];
    c.on('auth_failed', (info: AuthFailedInfo) => failures.push(info))
      .on('session_expired', (d: unknown) => expired.push(d))
      .on('reconnecting', (r: unknown) => reconnecting.push(r));
    await c.connect();
    const conn = await fx.server.connection(0);
    const e = fx.server.publish('session_expired', { reason: 'session_timeout' }, { live: false });
    fx.server.sendEvent(conn, e);
    conn.socket.close(4401, 'Session expired');
    await waitFor(() => failures.length === 1, 'auth_failed', 5000, 10);
    expect(expired).to.deep.equal([{ reason: 'session_timeout' }]);
    expect(failures[0]).to.include({ code: 4401, session_ended: true });
    expect(reconnecting).to.deep.equal([]);
    expect(c.reconnectToken, 'the reconnect token of an ended session is forgotten').to.equal(null);
  });

  it('stops after close 4403 (origin refused)', async () => {
    const c = fx.client();
    const failures: AuthFailedInfo[] = [];
    c.on('auth_failed', (info: AuthFailedInfo) => failures.push(info));
    const connecting = c.connect();
    await connecting;
    const conn = await fx.server.connection(0);
    conn.send({ type: 'error', error_code: 'origin_not_allowed', message: 'Origin not allowed' });
    conn.socket.close(4403, 'Origin not allowed');
    await waitFor(() => failures.length === 1, 'auth_failed', 5000, 10);
    expect(failures[0]).to.include({ code: 4403, error_code: 'origin_not_allowed' });
  });

  it('falls back to the page token once when the reconnect token is refused', async () => {
    const c = fx.client();
    await c.connect();
    const rt = c.reconnectToken!;
    fx.server.acceptedTokens.delete(rt);
    (await fx.server.connection(0)).socket.terminate();
    const refused = await fx.server.connection(1);
    expect(refused.query.get('token')).to.equal(rt);
    const third = await fx.server.connection(2);
    expect(third.query.get('token')).to.equal(TOKEN);
    await waitFor(() => c.isConnectedNow(), 'the login with the page token', 5000, 10);

    // Both refused: no loop between the two.
    const failures: AuthFailedInfo[] = [];
    c.on('auth_failed', (info: AuthFailedInfo) => failures.push(info));
    fx.server.acceptedTokens.clear();
    third.socket.terminate();
    await waitFor(() => failures.length === 1, 'auth_failed', 5000, 10);
    expect(fx.server.connections.map((conn) => conn.query.get('token') === TOKEN)).to.deep.equal([true, false, true, false, true]);
  });

  it('does not resubscribe a folder whose access the server revoked', async () => {
    const c = fx.client();
    const revoked: unknown[] = [];
    c.on('subscription_revoked', (m: unknown) => revoked.push(m));
    await c.connect();
    await c.subscribeToFolder(3);
    await c.subscribeToFolder(4);
    const first = await fx.server.connection(0);
    first.send({ type: 'response', action: 'unsubscribed', channel: 'folder', folder_id: 4, reason: 'access_revoked' });
    await waitFor(() => revoked.length === 1, 'subscription_revoked', 5000, 10);
    expect(c.getSubscriptions()).to.deep.equal(['folder:3']);
    first.socket.terminate();
    const second = await fx.server.connection(1);
    await second.nextFrame((f) => f.action === 'subscribe');
    await c.send({ action: 'get_status' });
    expect(second.framesWith('subscribe').map((f) => f.data?.folder_id)).to.deep.equal([3]);
  });

  it('emits resync_required when the server no longer holds the events after its resume point', async () => {
    const quiet = new ClientHarness({ auto: false });
    await quiet.start();
    try {
      const c = fx.client({ url: quiet.url, lastEventId: 5 });
      const resync: unknown[] = [];
      c.on('resync_required', (d: unknown) => resync.push(d));
      const connecting = c.connect();
      const conn = await quiet.connection(0);
      expect(conn.query.get('since')).to.equal('5');
      conn.send({ type: 'connected', user_id: 1, last_event_id: 90, recovered: false });
      await connecting;
      expect(resync).to.deep.equal([{ since_event_id: 5, last_event_id: 90 }]);
      expect(c.getLastEventId()).to.equal(90);
    } finally {
      await quiet.stop();
    }
  });

  it('drops a server that stops answering pings and reconnects', async () => {
    const quiet = new ClientHarness({ auto: false });
    await quiet.start();
    try {
      const c = fx.client({ url: quiet.url, pingInterval: 50, requestTimeout: 150 });
      const closes: number[] = [];
      c.onClose((e) => closes.push(e.code));
      const connecting = c.connect();
      const conn = await quiet.connection(0);
      conn.send({ type: 'connected', user_id: 1, last_event_id: 0 });
      await connecting;
      await conn.nextFrame((f) => f.action === 'ping');
      const second = await quiet.connection(1);
      expect(closes[0]).to.equal(4000);
      expect(second.query.get('since')).to.equal('0');
    } finally {
      await quiet.stop();
    }
  });
});
