import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpRoute } from '../delivery.js';
import { methodNotAllowed, requestPath, sendText } from './http.js';

export const CLIENT_SCRIPT_PATH = '/client/teampass-websocket.js';

/** The package's root: the nearest folder above this file with package.json (from src/ or dist/). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

export function clientBundlePath(): string {
  return path.join(packageRoot(), 'dist', 'client', 'teampass-websocket.js');
}

/**
 * GET /client/teampass-websocket.js: the browser client, in every mode, so a TeamPass page (or
 * any other) can load it from the daemon. Read per request (it is small) so a rebuild needs no
 * restart; an ETag spares unchanged copies.
 */
export function clientRoutes(options: { bundlePath?: string } = {}): HttpRoute[] {
  const file = options.bundlePath ?? clientBundlePath();
  const route: HttpRoute = (req, res) => {
    if (requestPath(req) !== CLIENT_SCRIPT_PATH) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      methodNotAllowed(res, 'GET, HEAD');
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
