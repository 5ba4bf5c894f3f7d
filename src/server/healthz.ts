import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/schema.js';
import { ping, type Database } from '../db/index.js';
import type { FeedHealth, HttpRoute } from '../delivery.js';
import type { Metrics } from '../metrics/index.js';
import { packageInfo } from '../ops/package-info.js';

export interface HealthDeps {
  metrics: Metrics;
  /** The event bridge's view; undefined before it started (or when there is none). */
  health: () => FeedHealth | undefined;
  db: Database;
  config: Config;
  /** Names this daemon among several behind one proxy, e.g. host:port. */
  instanceId?: string;
  /** 'demo' when it serves the embedded demo data, not TeamPass. */
  mode?: 'demo' | 'teampass';
  /** Injectable for tests; defaults to Date.now. */
  now?: () => number;
}

/** The field a probe (check-requirements, a load balancer) recognises this daemon by. */
export const HEALTH_SERVICE_NAME = 'teampass-ws';

export interface HealthBody {
  status: 'ok' | 'degraded';
  service: typeof HEALTH_SERVICE_NAME;
  version: string;
  mode: 'demo' | 'teampass';
  instance?: string;
  db: { reachable: boolean; client: 'mysql' | 'sqlite'; error?: string };
  poll_lag_ms: number | null;
  max_lag_ms: number;
  last_event_id: number | null;
  connections: number;
  uptime_sec: number;
  problems: string[];
}

const DB_PROBE_TIMEOUT_MS = 1000;
const DB_PROBE_CACHE_MS = 1000;

interface Probe {
  reachable: boolean;
  error?: string;
  at: number;
}

/**
 * A cheap `select 1` with a short timeout, its answer kept for a second, so a load balancer
 * probing every few hundred ms costs the database one query a second, and a hung database makes
 * /healthz answer within the timeout instead of hanging with it.
 */
function dbProbe(db: Database, now: () => number): () => Promise<Probe> {
  let last: Probe | undefined;
  let running: Promise<Probe> | undefined;
  const run = async (): Promise<Probe> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'TIMEOUT' })), DB_PROBE_TIMEOUT_MS);
    });
    try {
      await Promise.race([ping(db), timeout]);
      return { reachable: true, at: now() };
    } catch (err) {
      // Only the driver's code: the message may name the host, which /healthz does not publish.
      const code = (err as { code?: unknown }).code;
      return { reachable: false, error: typeof code === 'string' ? code : 'ERROR', at: now() };
    } finally {
      clearTimeout(timer);
    }
  };
  return () => {
    if (last && now() - last.at < DB_PROBE_CACHE_MS) return Promise.resolve(last);
    running ??= run().then((probe) => {
      last = probe;
      running = undefined;
      return probe;
    });
    return running;
  };
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Answers GET and HEAD; anything else on the path is a 405. Returns false when the path is not ours. */
function route(path: string, handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>): HttpRoute {
  return async (req, res) => {
    if (pathOf(req) !== path) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Method not allowed\n');
      return true;
    }
    await handler(req, res);
    return true;
  };
}

function send(req: IncomingMessage, res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function gaugeValue(gauge: Metrics['connections']): Promise<number> {
  const { values } = await gauge.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

/**
 * /healthz: 200 while the database answers and the poller keeps up (lag under
 * healthz_max_lag_ms), else 503, with a JSON body saying why.
 */
export function healthzRoute(deps: HealthDeps): HttpRoute {
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const probe = dbProbe(deps.db, now);
  const version = packageInfo().version;

  return route('/healthz', async (req, res) => {
    const [db, connections] = await Promise.all([probe(), gaugeValue(deps.metrics.connections)]);
    const feed = deps.health();
    const problems: string[] = [];
    if (!db.reachable) problems.push(`database unreachable (${db.error})`);
    if (feed && feed.pollLagMs > deps.config.healthz_max_lag_ms) {
      problems.push(`poller ${Math.round(feed.pollLagMs)} ms behind (limit ${deps.config.healthz_max_lag_ms} ms)`);
    }
    const body: HealthBody = {
      status: problems.length === 0 ? 'ok' : 'degraded',
      service: HEALTH_SERVICE_NAME,
      version,
      mode: deps.mode ?? 'teampass',
      ...(deps.instanceId ? { instance: deps.instanceId } : {}),
      db: { reachable: db.reachable, client: deps.db.client, ...(db.error ? { error: db.error } : {}) },
      poll_lag_ms: feed ? Math.round(feed.pollLagMs) : null,
      max_lag_ms: deps.config.healthz_max_lag_ms,
      last_event_id: feed ? feed.lastEventId : null,
      connections,
      uptime_sec: Math.floor((now() - startedAt) / 1000),
      problems,
    };
    send(req, res, problems.length === 0 ? 200 : 503, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
  });
}
