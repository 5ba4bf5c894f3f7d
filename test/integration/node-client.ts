/**
 * The project's browser client (TeamPassWebSocket) run in Node against the real daemon, on a
 * socket class the test steers: it can keep the client away (every connection attempt refused,
 * as while the daemon is down) and cut a connection after a chosen number of event frames.
 * A cut is what a broken network does: nothing that came after it reaches the client.
 */
import net from 'node:net';
import WebSocket from 'ws';
import { TeamPassWebSocket } from '../../src/client/teampass-websocket.js';
import type { EventMeta, SocketConstructor } from '../../src/client/types.js';

export interface SteeredClient {
  readonly client: TeamPassWebSocket;
  /** Every event the page was handed, in the order it was handed over. */
  readonly dispatched: EventMeta[];
  /** Event frames that reached the current socket. */
  framesOnSocket(): number;
  /** New connection attempts are refused, and the current one is cut, until `comeBack`. */
  goAway(): void;
  comeBack(): void;
  /** Cuts the connection once `n` more event frames have reached it. */
  dropAfter(n: number): void;
  /** Each new connection is cut after the next count of event frames, until the list is used up. */
  planDrops(counts: number[]): void;
  /** Planned drops not done yet. */
  dropsLeft(): number;
  /** How many sockets the client opened that reached the daemon. */
  readonly logins: number;
  stop(): Promise<void>;
}

/** A loopback port that refuses every connection (a daemon that is down). */
async function refusedUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `ws://127.0.0.1:${port}/ws`;
}

export async function steeredClient(url: string, token: string): Promise<SteeredClient> {
  const down = await refusedUrl();
  let away = false;
  let dropIn: number | undefined;
  let frames = 0;
  let logins = 0;
  let current: WebSocket | undefined;
  let planned: number[] = [];

  class SteeredSocket extends WebSocket {
    private cut = false;

    constructor(target: string, protocols?: string | string[]) {
      super(away ? target.replace(/^ws:\/\/[^/]+\/ws/, down) : target, protocols);
      if (away) return;
      current = this;
      frames = 0;
      logins += 1;
      if (planned.length > 0) dropIn = planned.shift();
      this.on('message', (raw) => {
        if (!String(raw).startsWith('{"type":"event"')) return;
        frames += 1;
        if (dropIn !== undefined && --dropIn <= 0) {
          dropIn = undefined;
          this.cut = true;
          this.terminate();
        }
      });
    }

    /**
     * After terminate(), ws still hands over the frames it had already read from the socket (the
     * rest of that chunk, and what a paused socket buffered): a cut connection hands over none.
     */
    override emit(event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'message' && this.cut) return false;
      return super.emit(event, ...args);
    }
  }

  const client = new TeamPassWebSocket({
    url,
    token,
    WebSocket: SteeredSocket as unknown as SocketConstructor,
    reconnectInterval: 5,
    maxReconnectDelay: 50,
    reconnectJitter: 0,
    maxReconnectAttempts: 1_000_000,
    logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
  });
  const dispatched: EventMeta[] = [];
  client.on('*', (_name: string, _data: unknown, meta?: EventMeta) => {
    if (meta?.event_id !== undefined) dispatched.push(meta);
  });
  await client.connect();
  return {
    client,
    dispatched,
    framesOnSocket: () => frames,
    goAway() {
      away = true;
      current?.terminate();
    },
    comeBack() {
      away = false;
    },
    dropAfter(n: number) {
      dropIn = n;
    },
    planDrops(counts: number[]) {
      planned = [...counts];
    },
    dropsLeft: () => planned.length + (dropIn === undefined ? 0 : 1),
    get logins() {
      return logins;
    },
    async stop() {
      client.disconnect();
    },
  };
}
