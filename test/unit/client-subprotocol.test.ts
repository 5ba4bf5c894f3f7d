import { expect } from 'chai';
import { WebSocket } from 'ws';
import { TeamPassWebSocket } from '../../src/client/teampass-websocket.js';
import type { AuthFailedInfo, SocketConstructor, TeamPassWebSocketOptions } from '../../src/client/types.js';
import { waitFor } from '../helpers/wait.js';
import { ClientHarness, clientFixture, quietLogger, TOKEN } from './client-harness.js';

describe('browser client: the teampass-ws subprotocol (real sockets)', () => {
  const fx = clientFixture({ reconnectInterval: 20, reconnectJitter: 0 });

  it('offers teampass-ws, which the daemon selects to send its precise close codes', async () => {
    const c = fx.client();
    await c.connect();
    const conn = await fx.server.connection(0);
    expect(conn.offeredProtocols).to.equal('teampass-ws');
    expect(c.ws?.protocol).to.equal('teampass-ws');
  });

  describe('against a server that selects no subprotocol (TeamPass\'s PHP daemon)', () => {
    let php: ClientHarness;
    const clients: TeamPassWebSocket[] = [];
    beforeEach(async () => {
      php = await new ClientHarness({ php: true }).start();
    });
    afterEach(async () => {
      for (const c of clients.splice(0)) c.disconnect();
      await php.stop();
    });
    const client = (options: TeamPassWebSocketOptions = {}) => {
      const c = new TeamPassWebSocket({
        url: php.url,
        token: TOKEN,
        WebSocket: WebSocket as unknown as SocketConstructor,
        logger: quietLogger(),
        reconnectInterval: 20,
        reconnectJitter: 0,
        ...options,
      });
      clients.push(c);
      return c;
    };

    it('logs in without offering it, receives events, and reconnects the same way', async () => {
      const c = client();
      const received: unknown[] = [];
      c.on('item_created', (data: unknown) => received.push(data));
      await c.connect();
      await c.subscribeToFolder(3);
      expect(php.connections.map((conn) => conn.offeredProtocols)).to.deep.equal(['teampass-ws', '']);
      php.publish('item_created', { folder_id: 3 });
      await waitFor(() => received.length === 1, 'the event', 5000);
      php.connections[1].socket.close(1000, '');
      await waitFor(() => php.connections.filter((conn) => conn.authenticated && !conn.closed).length === 1 && php.connections.length === 3, 'the reconnect', 5000);
      expect(php.connections[2].offeredProtocols, 'once met, the old server is not offered it again').to.equal('');
    });

    it('stops after the in-band auth_failed and close 1000, instead of retrying', async () => {
      const c = client({ token: 'f'.repeat(64) });
      const failures: AuthFailedInfo[] = [];
      const reconnecting: unknown[] = [];
      c.on('auth_failed', (info: AuthFailedInfo) => failures.push(info)).on('reconnecting', (r: unknown) => reconnecting.push(r));
      await c.connect().catch(() => undefined);
      await waitFor(() => failures.length === 1, 'auth_failed', 5000);
      expect(failures[0]).to.deep.equal({ code: 1000, reason: 'Authentication failed', error_code: 'auth_failed', message: 'Authentication failed', session_ended: false });
      await new Promise((r) => setTimeout(r, 200));
      expect(reconnecting).to.deep.equal([]);
      expect(php.connections).to.have.length(2);
    });

    it('stops when a session_expired event is followed by close 1000', async () => {
      const c = client();
      const failures: AuthFailedInfo[] = [];
      c.on('auth_failed', (info: AuthFailedInfo) => failures.push(info));
      await c.connect();
      const conn = php.connections[1];
      php.sendEvent(conn, php.publish('session_expired', { reason: 'session_timeout' }, { live: false }));
      conn.socket.close(1000, '');
      await waitFor(() => failures.length === 1, 'auth_failed', 5000);
      expect(failures[0]).to.include({ code: 1000, session_ended: true });
    });
  });

  it('reconnects after a plain 1000 close (heartbeat, shutdown) from a server that selected it', async () => {
    const c = fx.client();
    await c.connect();
    (await fx.server.connection(0)).socket.close(1000, 'heartbeat timeout');
    const back = await fx.server.connection(1);
    expect(back.offeredProtocols).to.equal('teampass-ws');
    await waitFor(() => c.isConnectedNow(), 'the new login', 5000);
  });
});
