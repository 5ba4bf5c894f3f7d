import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log/index.js';
import type { HttpRoute } from '../delivery.js';

/** Proxies forward /ws (nginx keeps the prefix) or / (Apache's ProxyPass /ws/ strips it). */
export function isWebsocketPath(url: string | undefined): boolean {
  const path = (url ?? '/').split('?')[0];
  return path === '/' || path === '/ws' || path === '/ws/';
}

/**
 * The daemon's own HTTP endpoints (/healthz, /metrics, the browser client, the demo). Every
 * other path upgrades, as Ratchet accepts any path and TeamPass's proxy examples differ.
 */
export function isHttpRoutePath(url: string | undefined): boolean {
  const path = (url ?? '/').split('?')[0];
  return path === '/healthz' || path === '/metrics' || path.startsWith('/client/') || path === '/demo' || path.startsWith('/demo/');
}

export function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

/** Plain HTTP: the routes in order, then 426 on the websocket paths, else 404; always JSON. */
export function httpHandler(routes: readonly HttpRoute[], logger: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void (async () => {
      try {
        for (const route of routes) if (await route(req, res)) return;
      } catch (err) {
        logger.error('HTTP route failed', { path: (req.url ?? '').split('?')[0], error: (err as Error).message });
        if (!res.headersSent) sendJson(res, 500, { error: 'server_error', message: 'The request failed on the server; see the daemon log.' });
        else res.end();
        return;
      }
      const path = (req.url ?? '/').split('?')[0];
      if (isWebsocketPath(req.url)) {
        res.setHeader('Upgrade', 'websocket');
        return sendJson(res, 426, { error: 'upgrade_required', message: `${path} is the websocket endpoint: connect with a websocket client (ws://…${path}?token=…).` });
      }
      sendJson(res, 404, { error: 'not_found', message: `No such endpoint: ${path.slice(0, 200)}. The websocket is at /ws (or /).` });
    })();
  };
}

/**
 * Before the database is ready: /healthz says the daemon is starting (503, so a load balancer
 * waits); the other routes (the client script, /metrics) answer as usual.
 */
export function answerStarting(req: IncomingMessage, res: ServerResponse, routes: (req: IncomingMessage, res: ServerResponse) => void): void {
  if ((req.url ?? '/').split('?')[0] !== '/healthz') return routes(req, res);
  sendJson(res, 503, { status: 'starting', service: 'teampass-ws', message: 'Connecting to the database; websocket upgrades wait until it answers.' });
}

/** Answers an upgrade the daemon will not take, then drops the socket. */
const UPGRADE_REFUSALS = {
  400: { error: 'not_a_websocket_endpoint', reason: 'Bad Request' },
  503: { error: 'unavailable', reason: 'Service Unavailable' },
} as const;

export function rejectUpgrade(socket: Duplex, status: keyof typeof UPGRADE_REFUSALS, message: string): void {
  const { error, reason } = UPGRADE_REFUSALS[status];
  const body = `${JSON.stringify({ error, message })}\n`;
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
