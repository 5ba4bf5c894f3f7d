import type { Database } from '../db/index.js';
import { isTeampassWsError } from '../errors.js';
import type { Logger } from '../log/index.js';
import type { HttpRoute } from '../delivery.js';
import { DemoRequestError, demoEmit, parseDemoEmit } from './emit.js';
import { BodyTooLarge, methodNotAllowed, readBody, requestPath, sendJson, sendText } from './http.js';
import { renderDemoPage } from './page.js';
import type { DemoInfo } from './prepare.js';

export interface DemoRouteDeps {
  db: Database;
  demo: DemoInfo;
  /** The `--db` argument `teampass-ws emit` needs for this database; empty for the embedded default. */
  emitDbArgument?: string;
  /** config wake_port: the datagram `emit` sends after its write (0: none). */
  wakePort?: number;
  /** Called after an event is written, e.g. the bridge's pollNow, so the page sees it at once. */
  onEventWritten?: () => void;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

const MAX_BODY_BYTES = 8 * 1024;

/** GET /demo (the page) and POST /demo/emit (fire an event); registered only in demo mode. */
export function demoRoutes(deps: DemoRouteDeps): HttpRoute[] {
  const page = renderDemoPage(deps.demo, { emitDbArgument: deps.emitDbArgument ?? '' });

  const pageRoute: HttpRoute = (req, res) => {
    const path = requestPath(req);
    if (path !== '/demo' && path !== '/demo/') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      methodNotAllowed(res, 'GET, HEAD');
      return true;
    }
    sendText(res, 200, 'text/html; charset=utf-8', page, req.method === 'HEAD', { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    return true;
  };

  const emitRoute: HttpRoute = async (req, res) => {
    if (requestPath(req) !== '/demo/emit') return false;
    if (req.method !== 'POST') {
      methodNotAllowed(res, 'POST');
      return true;
    }
    let body: unknown;
    try {
      const text = await readBody(req, MAX_BODY_BYTES);
      body = JSON.parse(text);
    } catch (err) {
      if (err instanceof BodyTooLarge) sendJson(res, 413, { error: `The request body is over ${MAX_BODY_BYTES} bytes.`, suggestion: 'Send a short JSON object.' });
      else sendJson(res, 400, { error: 'The request body is not JSON.', suggestion: 'Send {"token": "...", "event_type": "item_created", "folder_id": 3, "label": "..."}.' });
      return true;
    }
    try {
      const { user, request } = parseDemoEmit(body, deps.demo);
      const result = await demoEmit(deps.db, user, request, { wakePort: deps.wakePort });
      deps.onEventWritten?.();
      deps.logger?.info('demo event written', { event_type: result.event_type, target: result.target, ids: result.ids, user: user.login });
      sendJson(res, 200, result);
    } catch (err) {
      if (err instanceof DemoRequestError) {
        sendJson(res, err.status, { error: err.message, suggestion: err.suggestion });
      } else if (isTeampassWsError(err) && err.code === 'INPUT') {
        sendJson(res, 400, { error: err.message, suggestion: err.suggestion });
      } else {
        deps.logger?.warn('demo event not written', { error: (err as Error).message });
        sendJson(res, 500, { error: `The event was not written: ${(err as Error).message}`, suggestion: 'See the daemon log.' });
      }
    }
    return true;
  };

  return [pageRoute, emitRoute];
}
