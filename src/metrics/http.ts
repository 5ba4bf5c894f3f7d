import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FeedHealth, HttpRoute } from '../delivery.js';
import type { Metrics } from './metrics.js';

export interface MetricsRouteDeps {
  metrics: Metrics;
  /** The event bridge's view; undefined before it started (or when there is none). */
  health: () => FeedHealth | undefined;
}

/** GET /metrics (HEAD too): Prometheus text; anything else on the path is a 405. */
export function metricsRoute(deps: MetricsRouteDeps): HttpRoute {
  return async (req: IncomingMessage, res: ServerResponse) => {
    if ((req.url ?? '/').split('?')[0] !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Method not allowed\n');
      return true;
    }
    const feed = deps.health();
    // Scrapes see the lag as of now, not as of the poller's last report.
    if (feed) deps.metrics.pollLagSeconds.set(feed.pollLagMs / 1000);
    const body = await deps.metrics.registry.metrics();
    res.writeHead(200, { 'Content-Type': deps.metrics.registry.contentType, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
