import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { TeamPassWebSocket } from '../../src/client/teampass-websocket.js';
import type { SocketConstructor, TeamPassWebSocketOptions } from '../../src/client/types.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A small server speaking TeamPass's wire protocol over real sockets, scripted per test: enough
 * of the daemon's behaviour (login, replies, event replay after `since`) to drive the browser
 * client through reconnects. The real daemon is exercised in the browser tests.
 */

export interface ClientFrame {
  action?: string;
  request_id?: string;
  channel?: string;
  data?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface StoredEvent {
  id: number;
  event: string;
  data: unknown;
  /** The folder it targets (from data.folder_id); absent for user and broadcast events. */
  folder?: number;
}

export class ServerConnection {
  readonly frames: ClientFrame[] = [];
  readonly query: URLSearchParams;
  readonly folders = new Set<number>();
  authenticated = false;
  closed = false;

  constructor(
    readonly socket: WebSocket,
    readonly path: string,
    /** What the client offered in Sec-WebSocket-Protocol ('' for nothing). */
    readonly offeredProtocols = '',
  ) {
    this.query = new URL(path, 'ws://x').searchParams;
    socket.on('message', (raw) => {
      this.frames.push(JSON.parse(String(raw)) as ClientFrame);
    });
    socket.on('close', () => {
      this.closed = true;
    });
  }

  send(frame: Record<string, unknown>): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  framesWith(action: string): ClientFrame[] {
    return this.frames.filter((f) => f.action === action);
  }

  /** Resolves with the first frame (past or future) matching `match`. */
  nextFrame(match: (f: ClientFrame) => boolean, timeoutMs = 5000): Promise<ClientFrame> {
    return waitFor(() => this.frames.find(match), 'a frame from the client', timeoutMs, 10);
  }
}

export interface HarnessOptions {
  /** Tokens the server accepts; every reconnect_token it hands out is accepted too. */
  tokens?: string[];
  /** Answer logins, subscribes and pings (false: the test scripts every frame). */
  auto?: boolean;
  /** Leave out reconnect_token from `connected` (a JWT login). */
  noReconnectToken?: boolean;
  /** As TeamPass's PHP daemon: select no subprotocol, and close a refused login with 1000. */
  php?: boolean;
}

export class ClientHarness {
  readonly connections: ServerConnection[] = [];
  readonly events: StoredEvent[] = [];
  readonly acceptedTokens: Set<string>;
  /** Folders this server refuses with `forbidden`, as the daemon does without access. */
  readonly forbiddenFolders = new Set<number>();
  private wss: WebSocketServer | null = null;
  private reconnectCounter = 0;
  private readonly frameHooks: Array<(conn: ServerConnection, frame: ClientFrame) => void> = [];
  port = 0;

  constructor(private readonly options: HarnessOptions = {}) {
    this.acceptedTokens = new Set(options.tokens ?? ['a'.repeat(64)]);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  async start(port = this.port): Promise<this> {
    // ws selects the first subprotocol offered unless told otherwise; Ratchet selects none.
    const wss = new WebSocketServer({ host: '127.0.0.1', port, ...(this.options.php ? { handleProtocols: () => false as const } : {}) });
    await once(wss, 'listening');
    this.port = (wss.address() as AddressInfo).port;
    wss.on('connection', (socket, req) => {
      const conn = new ServerConnection(socket, req.url ?? '/', String(req.headers['sec-websocket-protocol'] ?? ''));
      this.connections.push(conn);
      if (this.options.auto !== false) this.serve(conn);
    });
    this.wss = wss;
    return this;
  }

  /** Closes the listening socket and every connection (1001, as a daemon shutting down). */
  async stop(): Promise<void> {
    const wss = this.wss;
    if (!wss) return;
    this.wss = null;
    for (const client of wss.clients) client.close(1001, 'Server shutting down');
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  /**
   * Stores an event and sends it to every logged-in connection that may see it (subscribed to
   * its folder, or any for a user or broadcast event), as the daemon's poller would.
   */
  publish(event: string, data: unknown, options: { live?: boolean } = {}): StoredEvent {
    const folderId = (data as { folder_id?: unknown } | null)?.folder_id;
    const stored: StoredEvent = { id: (this.events.at(-1)?.id ?? 0) + 1, event, data, ...(typeof folderId === 'number' ? { folder: folderId } : {}) };
    this.events.push(stored);
    // Ids here commit in order: every live frame's settled watermark is its own id.
    if (options.live !== false) for (const c of this.connections) if (c.authenticated && !c.closed && this.sees(c, stored)) this.sendEvent(c, stored, stored.id);
    return stored;
  }

  sees(conn: ServerConnection, e: StoredEvent): boolean {
    return e.folder === undefined || conn.folders.has(e.folder);
  }

  /** The daemon's recovery: what this connection may see after `since`, ascending, duplicates included. */
  replay(conn: ServerConnection, since: number): void {
    for (const e of this.events) if (e.id > since && this.sees(conn, e)) this.sendEvent(conn, e);
  }

  /** A live frame carries the settled watermark; a replayed one does not. */
  sendEvent(conn: ServerConnection, e: StoredEvent, settledId?: number): void {
    conn.send({ type: 'event', event: e.event, data: e.data, timestamp: 1_700_000_000 + e.id, event_id: e.id, ...(settledId === undefined ? {} : { settled_event_id: settledId }) });
  }

  /** Runs after the scripted answer to each frame a logged-in client sends, in the same tick. */
  onFrame(hook: (conn: ServerConnection, frame: ClientFrame) => void): void {
    this.frameHooks.push(hook);
  }

  connection(index: number, timeoutMs = 5000): Promise<ServerConnection> {
    return waitFor(() => this.connections[index], `connection #${index + 1}`, timeoutMs, 10);
  }

  private serve(conn: ServerConnection): void {
    const token = conn.query.get('token') ?? '';
    if (!this.acceptedTokens.has(token)) {
      conn.send({ type: 'error', error_code: 'auth_failed', message: 'Authentication failed' });
      conn.socket.close(this.options.php ? 1000 : 4401, 'Authentication failed');
      return;
    }
    conn.authenticated = true;
    this.reconnectCounter += 1;
    const reconnectToken = `${String(this.reconnectCounter).padStart(2, '0')}${'b'.repeat(62)}`;
    this.acceptedTokens.add(reconnectToken);
    const lastEventId = this.events.at(-1)?.id ?? 0;
    conn.send({
      type: 'connected',
      user_id: 7,
      user_login: 'alice',
      user_display_name: 'Alice',
      server_time: 1_700_000_000,
      config: { ping_interval: 30 },
      ...(this.options.noReconnectToken ? {} : { reconnect_token: reconnectToken }),
      last_event_id: lastEventId,
      settled_event_id: lastEventId,
    });
    // As the daemon: the login's replay runs before any subscription exists (user and broadcast events only).
    const since = conn.query.get('since');
    if (since !== null) this.replay(conn, Number(since));
    conn.socket.on('message', (raw) => {
      const f = JSON.parse(String(raw)) as ClientFrame;
      if (f.action === 'ping') conn.send({ type: 'pong', timestamp: 1_700_000_000, request_id: f.request_id });
      else if (f.action === 'subscribe' && f.channel === 'folder' && this.forbiddenFolders.has(Number(f.data?.folder_id))) {
        conn.send({ type: 'error', error_code: 'forbidden', message: 'Access denied to this folder.', request_id: f.request_id });
      } else if (f.action === 'subscribe' && f.channel === 'folder') {
        conn.folders.add(Number(f.data?.folder_id));
        const since = f.data?.since_event_id;
        if (typeof since === 'number') this.replay(conn, since);
        const recovery = typeof since === 'number' ? { recovered: true, settled_event_id: this.events.at(-1)?.id ?? 0 } : {};
        conn.send({ type: 'response', status: 'success', action: 'subscribed', channel: 'folder', folder_id: f.data?.folder_id, locked_items: [], viewing_items: [], ...recovery, request_id: f.request_id });
      } else if (f.action === 'subscribe' && f.channel === 'kb') {
        conn.send({ type: 'response', status: 'success', action: 'subscribed', channel: 'kb', locked_kbs: [], viewing_kbs: [], request_id: f.request_id });
      } else if (f.action === 'unsubscribe') {
        conn.folders.delete(Number(f.data?.folder_id));
        conn.send({ type: 'response', status: 'success', action: 'unsubscribed', channel: f.channel, folder_id: f.data?.folder_id, request_id: f.request_id });
      } else if (f.action === 'get_status') {
        conn.send({ type: 'status', connected: true, user_id: 7, request_id: f.request_id });
      }
      for (const hook of this.frameHooks) hook(conn, f);
    });
  }
}

/** A logger that keeps what the client prints out of the test output, for assertions. */
export function quietLogger(): { log: () => void; warn: (...a: unknown[]) => void; error: (...a: unknown[]) => void; lines: unknown[][] } {
  const lines: unknown[][] = [];
  return {
    lines,
    log: () => undefined,
    warn: (...a: unknown[]) => void lines.push(a),
    error: (...a: unknown[]) => void lines.push(a),
  };
}

/** The token the harness accepts by default. */
export const TOKEN = 'a'.repeat(64);

export interface ClientFixture {
  /** This test's scripted server (fresh for each test). */
  readonly server: ClientHarness;
  /** A client on it, with Node's `ws` as its WebSocket; disconnected after the test. */
  client(options?: TeamPassWebSocketOptions): TeamPassWebSocket;
}

/** Registers per-test hooks: a fresh harness before each test, every client and the harness stopped after. */
export function clientFixture(defaults: TeamPassWebSocketOptions = {}): ClientFixture {
  let server: ClientHarness | undefined;
  const clients: TeamPassWebSocket[] = [];
  beforeEach(async () => {
    server = await new ClientHarness().start();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await server?.stop();
  });
  return {
    get server() {
      return server!;
    },
    client(options = {}) {
      const c = new TeamPassWebSocket({
        url: server!.url,
        token: TOKEN,
        WebSocket: WebSocket as unknown as SocketConstructor,
        logger: quietLogger(),
        ...defaults,
        ...options,
      });
      clients.push(c);
      return c;
    },
  };
}
