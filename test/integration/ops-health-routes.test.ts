import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../../src/config/index.js';
import type { Database } from '../../src/db/index.js';
import { createMetrics, metricsRoute, type Metrics } from '../../src/metrics/index.js';
import { healthzRoute, type HealthBody, type HealthDeps } from '../../src/server/index.js';

const healthRoutes = (deps: HealthDeps): HttpRoute[] => [healthzRoute(deps), metricsRoute(deps)];
import type { FeedHealth, HttpRoute } from '../../src/delivery.js';
import { forEachBackend, openTestDatabase } from '../helpers/backends.js';
import { mariaDb, type MariaDbServer } from '../helpers/mariadb.js';
import { parsePrometheusText } from '../helpers/prometheus.js';
import { testConfig } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait.js';

interface Served {
  url: string;
  close(): Promise<void>;
}

/** A plain HTTP server that tries the routes in order and answers 404 otherwise, as the daemon does. */
async function serve(routes: HttpRoute[]): Promise<Served> {
  const server = http.createServer(async (req, res) => {
    for (const r of routes) if (await r(req, res)) return;
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function getJson(url: string): Promise<{ status: number; body: HealthBody }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as HealthBody };
}

/** Polls until the body says what is expected: the database probe answers are cached for a second. */
async function waitForHealth(url: string, status: number, timeoutMs = 15_000): Promise<HealthBody> {
  let last: { status: number; body: HealthBody } | undefined;
  await waitFor(async () => (last = await getJson(url)).status === status, () => `/healthz answers ${status}; it stayed ${last?.status}: ${JSON.stringify(last?.body)}`, timeoutMs, 100);
  return last!.body;
}

forEachBackend('/healthz and /metrics routes', (backend) => {
  let db: Database;
  let metrics: Metrics;
  let served: Served;
  let feed: FeedHealth | undefined;
  let config: Config;

  beforeEach(async () => {
    db = await openTestDatabase(await backend().newDatabaseUrl());
    metrics = createMetrics();
    config = testConfig({ healthz_max_lag_ms: 5000 });
    feed = { dbReachable: true, pollLagMs: 120, lastEventId: 42 };
    served = await serve(healthRoutes({ metrics, health: () => feed, db, config, instanceId: 'test:1' }));
  });
  afterEach(async () => {
    await served.close();
    await db.close();
  });

  it('answers 200 with a JSON body naming the service while all is well', async () => {
    metrics.connections.set(3);
    const { status, body } = await getJson(`${served.url}/healthz`);
    expect(status).to.equal(200);
    expect(body).to.include({ status: 'ok', service: 'teampass-ws', instance: 'test:1', poll_lag_ms: 120, max_lag_ms: 5000, last_event_id: 42, connections: 3 });
    expect(body.db).to.deep.equal({ reachable: true, client: db.client });
    expect(body.version).to.match(/^\d+\.\d+\.\d+/);
    expect(body.uptime_sec).to.be.a('number');
    const res = await fetch(`${served.url}/healthz?probe=1`);
    expect(res.headers.get('content-type')).to.contain('application/json');
    expect(res.headers.get('cache-control')).to.equal('no-store');
  });

  it('answers 503 when the poller lags behind healthz_max_lag_ms', async () => {
    feed = { dbReachable: true, pollLagMs: 7000, lastEventId: 42 };
    const { status, body } = await getJson(`${served.url}/healthz`);
    expect(status).to.equal(503);
    expect(body.status).to.equal('degraded');
    expect(body.problems.join()).to.contain('poller 7000 ms behind (limit 5000 ms)');
    feed = undefined;
    const before = await getJson(`${served.url}/healthz`);
    expect(before.status, 'no poller yet: the database decides').to.equal(200);
    expect(before.body.poll_lag_ms).to.equal(null);
  });

  it('answers HEAD, refuses other methods, and leaves other paths alone', async () => {
    const head = await fetch(`${served.url}/healthz`, { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(await head.text()).to.equal('');
    const post = await fetch(`${served.url}/metrics`, { method: 'POST' });
    expect(post.status).to.equal(405);
    expect(post.headers.get('allow')).to.equal('GET, HEAD');
    expect((await fetch(`${served.url}/healthzz`)).status).to.equal(404);
    expect((await fetch(`${served.url}/`)).status).to.equal(404);
  });

  it('serves /metrics as Prometheus text that parses line by line', async () => {
    metrics.connections.set(2);
    metrics.eventsDelivered.inc({ event_type: 'item_created' }, 5);
    metrics.authFailures.inc({ reason: 'token "expired"\nagain' });
    metrics.subscriptions.set({ channel: 'folder' }, 4);
    feed = { dbReachable: true, pollLagMs: 1500, lastEventId: 42 };
    const res = await fetch(`${served.url}/metrics`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal(metrics.registry.contentType);
    const families = parsePrometheusText(await res.text());
    const value = (name: string, labels: Record<string, string> = {}) =>
      families.get(name)?.samples.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
    expect(families.get('teampass_ws_connections')?.type).to.equal('gauge');
    expect(value('teampass_ws_connections')).to.equal(2);
    expect(families.get('teampass_ws_events_delivered_total')?.type).to.equal('counter');
    expect(value('teampass_ws_events_delivered_total', { event_type: 'item_created' })).to.equal(5);
    expect(value('teampass_ws_auth_failures_total', { reason: 'token "expired"\nagain' }), 'escaped label values survive').to.equal(1);
    expect(value('teampass_ws_subscriptions', { channel: 'folder' })).to.equal(4);
    expect(value('teampass_ws_poll_lag_seconds'), 'lag as of the scrape').to.equal(1.5);
    for (const name of ['teampass_ws_users', 'teampass_ws_slow_consumer_closes_total', 'teampass_ws_process_cpu_user_seconds_total', 'teampass_ws_process_resident_memory_bytes', 'teampass_ws_nodejs_eventloop_lag_seconds']) {
      expect(families.has(name), name).to.equal(true);
      expect(families.get(name)?.help, `${name} has HELP`).to.be.a('string').and.not.empty;
    }
  });
});

describe('/healthz during a MariaDB outage', () => {
  let db: Database;
  let served: Served;
  let server: MariaDbServer;

  before(async function () {
    this.timeout(120_000);
    const found = await mariaDb();
    if (!found) this.skip(); // only on a developer machine without MariaDB; CI=true fails instead
    server = found;
    db = await openTestDatabase(await server.createDatabase());
    served = await serve(healthRoutes({ metrics: createMetrics(), health: () => undefined, db, config: testConfig() }));
  });
  after(async () => {
    await served?.close();
    await db?.close();
  });

  it('answers 503 while the database is down, and 200 again once it is back', async function () {
    this.timeout(90_000);
    expect((await getJson(`${served.url}/healthz`)).status).to.equal(200);
    await server.stop();
    try {
      const started = Date.now();
      const body = await waitForHealth(`${served.url}/healthz`, 503);
      expect(body.db.reachable).to.equal(false);
      expect(body.problems.join()).to.contain('database unreachable');
      expect(Date.now() - started, 'the probe gives up quickly').to.be.lessThan(10_000);
    } finally {
      // The server is shared by the whole run: bring it back whatever happened.
      await server.start();
    }
    const back = await waitForHealth(`${served.url}/healthz`, 200);
    expect(back.db.reachable).to.equal(true);
  });
});
