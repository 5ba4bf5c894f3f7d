import { readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import type { HttpRoute } from '../delivery.js';
import { packageInfo } from '../ops/package-info.js';

export const CLIENT_SCRIPT_PATH = '/client/teampass-websocket.js';

export function clientBundlePath(): string {
  return path.join(packageInfo().root, 'dist', 'client', 'teampass-websocket.js');
}

function sendText(res: ServerResponse, status: number, contentType: string, body: string | Buffer, head = false, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(head ? undefined : body);
}

/**
 * GET /client/teampass-websocket.js: the browser client, in every mode, so a TeamPass page (or
 * any other) can load it from the daemon. Read per request (it is small) so a rebuild needs no
 * restart; an ETag spares unchanged copies.
 */
export function clientRoutes(options: { bundlePath?: string } = {}): HttpRoute[] {
  const file = options.bundlePath ?? clientBundlePath();
  const route: HttpRoute = (req, res) => {
    if ((req.url ?? '/').split('?')[0] !== CLIENT_SCRIPT_PATH) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Method not allowed: use GET, HEAD.\n');
      return true;
    }
    let body: Buffer;
    let etag: string;
    try {
      const stat = statSync(file);
      etag = `"${stat.size.toString(36)}-${Math.floor(stat.mtimeMs).toString(36)}"`;
      body = readFileSync(file);
    } catch {
      sendText(res, 503, 'text/plain; charset=utf-8', `The browser client is not built (${path.basename(file)} missing): run \`npm run build\`.\n`);
      return true;
    }
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ETag: etag });
      res.end();
      return true;
    }
    sendText(res, 200, 'application/javascript; charset=utf-8', body, req.method === 'HEAD', {
      ETag: etag,
      'Cache-Control': 'no-cache',
    });
    return true;
  };
  return [route];
}
