import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { rejectUpgrade, sendJson } from './http-routes.js';
import { SilentSockets } from './silent-sockets.js';

/**
 * Connections the kernel queues for accept(); the kernel caps it at net.core.somaxconn (4096 on
 * current kernels), so the host decides. Node's 511 overflows when thousands of browsers
 * reconnect at once after a redeploy: dropped SYNs are retried after 1 s, 3 s, 7 s…, and while
 * the queue stays full the kernel prunes half-open connections, whose clients then see resets.
 * A host that expects storms larger than its somaxconn raises it (and
 * net.ipv4.tcp_max_syn_backlog); the daemon then gets the larger queue without a change here.
 */
export const LISTEN_BACKLOG = 65535;

type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

interface HeldUpgrade {
  req: http.IncomingMessage;
  socket: Duplex;
  head: Buffer;
}

/** Upgrades that may wait at start; more are refused with 503 (the client retries). */
const MAX_HELD_UPGRADES = 1024;

/** How long a client may take over its HTTP request (ms). */
export interface HandshakeLimits {
  /** From the request's first byte to the end of its headers. */
  handshakeMs: number;
  /** From the connection to its first byte (never less than `handshakeMs`). */
  silentMs: number;
}

/** The limits a configuration sets. */
export function handshakeLimits(config: { handshake_timeout_ms: number; silent_connection_timeout_ms: number }): HandshakeLimits {
  return { handshakeMs: config.handshake_timeout_ms, silentMs: Math.max(config.handshake_timeout_ms, config.silent_connection_timeout_ms) };
}

/** What Node answers a request it gives up on, by its error code; anything else is a 400. */
const CLIENT_ERROR_REPLIES: Record<string, string> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n',
  HPE_HEADER_OVERFLOW: 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n',
};
const BAD_REQUEST_REPLY = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';

/**
 * The daemon's listening socket, bound before anything else is loaded or connected: TeamPass's
 * admin panel checks the port half a second after starting the unit. Until the server hands it
 * its handlers, plain HTTP gets 503 "starting" and websocket upgrades wait (bounded), then go
 * to the server in arrival order. Only node:http here, so it binds within milliseconds.
 */
export class PortGate {
  readonly httpServer: http.Server;
  private readonly held = new Set<HeldUpgrade>();
  private readonly silent: SilentSockets;
  private onRequest: RequestHandler | undefined;
  private onUpgrade: UpgradeHandler | undefined;
  private bound: Promise<{ host: string; port: number }> | undefined;

  /**
   * A slowloris client (headers that never end) is dropped `handshakeMs` after its first byte,
   * not Node's minutes; the check runs often enough for the limit to mean what it says. A
   * connection that has sent nothing yet has `silentMs`: in a reconnect storm the listen queue
   * overflows, the kernel drops the client's first packets, and its request comes with a TCP
   * retransmission seconds after the connection was accepted. Node counts both from the
   * accept; the gate gives the silent ones the difference.
   */
  constructor(limits: HandshakeLimits = { handshakeMs: 5000, silentMs: 20_000 }) {
    this.httpServer = http.createServer(
      {
        headersTimeout: limits.handshakeMs,
        requestTimeout: limits.handshakeMs,
        connectionsCheckingInterval: Math.min(1000, Math.ceil(limits.handshakeMs / 4)),
      },
      (req, res) => (this.onRequest ? this.onRequest(req, res) : answerStarting(res)),
    );
    this.silent = new SilentSockets(limits.silentMs - limits.handshakeMs, (socket) => answerClientError(socket, 'ERR_HTTP_REQUEST_TIMEOUT'));
    this.httpServer.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && (socket as Socket).bytesRead === 0 && this.silent.watch(socket as Socket)) return;
      answerClientError(socket, err.code);
    });
    this.httpServer.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      if (this.onUpgrade) return this.onUpgrade(req, socket, head);
      if (this.held.size >= MAX_HELD_UPGRADES) return rejectUpgrade(socket, 503, 'The daemon is starting; reconnect shortly.');
      const entry: HeldUpgrade = { req, socket, head };
      this.held.add(entry);
      socket.once('close', () => this.held.delete(entry));
    });
  }

  /** The configured limits, for a gate bound before the configuration was complete. */
  setLimits(limits: HandshakeLimits): void {
    this.httpServer.headersTimeout = limits.handshakeMs;
    this.httpServer.requestTimeout = limits.handshakeMs;
    this.silent.graceMs = limits.silentMs - limits.handshakeMs;
  }

  /** Binds once; the error is the socket's own (EADDRINUSE, …). */
  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return (this.bound ??= new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        this.httpServer.off('listening', onListening);
        reject(err);
      };
      const onListening = () => {
        this.httpServer.off('error', onError);
        resolve({ host, port: (this.httpServer.address() as AddressInfo).port });
      };
      this.httpServer.once('error', onError);
      this.httpServer.once('listening', onListening);
      this.httpServer.listen({ port, host, backlog: LISTEN_BACKLOG });
    }));
  }

  /** Whether this gate listens on host:port (a port of 0 asked for any). */
  async listensOn(host: string, port: number): Promise<boolean> {
    if (!this.bound) return false;
    try {
      const at = await this.bound;
      return at.host === host && (port === 0 || at.port === port);
    } catch {
      return false;
    }
  }

  /** Plain HTTP goes to `handler` from now on. */
  serveRequests(handler: RequestHandler): void {
    this.onRequest = handler;
  }

  /** Upgrades go to `handler`, those that waited first, in arrival order. */
  openUpgrades(handler: UpgradeHandler): void {
    this.onUpgrade = handler;
    const waiting = [...this.held];
    this.held.clear();
    for (const { req, socket, head } of waiting) if (!socket.destroyed) handler(req, socket, head);
  }

  close(): Promise<void> {
    for (const { socket } of this.held) rejectUpgrade(socket, 503, 'The daemon is shutting down; reconnect shortly.');
    this.held.clear();
    this.silent.stop();
    return new Promise((resolve) => this.httpServer.close(() => resolve()));
  }
}

function answerStarting(res: http.ServerResponse): void {
  sendJson(res, 503, { status: 'starting', service: 'teampass-ws', message: 'The daemon is starting; websocket upgrades wait until the database answers.' });
}

/** Node's own answer to a request it gave up on (408, 431, 400…), unless a response is under way; then the socket goes. */
function answerClientError(socket: Duplex, code: string | undefined): void {
  const response = (socket as Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
  if (socket.writable && !response?.headersSent) socket.write(CLIENT_ERROR_REPLIES[code ?? ''] ?? BAD_REQUEST_REPLY);
  socket.destroy();
}
