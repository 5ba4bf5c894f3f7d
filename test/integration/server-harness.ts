/**
 * Starts the real daemon core (createServer) on 127.0.0.1 and a free port against a test
 * database, with a JSON log file the tests can read back; and `useServerSuite`, the per-test
 * fixture every server and bridge suite declares.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createEventBridge, type EventBridge } from '../../src/bridge/index.js';
import type { Config } from '../../src/config/index.js';
import type { Database } from '../../src/db/index.js';
import { createLogger, type Logger } from '../../src/log/index.js';
import { createMetrics, type Metrics } from '../../src/metrics/index.js';
import { createServer, type HttpRoute, type TeampassWsServer } from '../../src/server/index.js';
import type { TeampassSettings } from '../../src/teampass/index.js';
import { openTestDatabase, tempDir, type Backend } from '../helpers/backends.js';
import { createTeampassDatabase } from '../helpers/teampass-fixture.js';
import { testConfig } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait.js';
import { connect, type ConnectOptions, type TestWsClient } from '../helpers/ws-client.js';
import { migrated, startBridge, type BridgeHarness } from './bridge-recorder.js';

export { testConfig, waitFor };

export interface TestServerOptions {
  config?: Partial<Config>;
  tokenMode?: 'reusable' | 'single_use';
  teampass?: TeampassSettings;
  routes?: HttpRoute[];
  /** Start the event bridge polling (recovery and live events). */
  bridge?: boolean;
  instanceId?: string;
}

export interface TestServer {
  readonly server: TeampassWsServer<EventBridge>;
  readonly db: Database;
  readonly config: Config;
  readonly metrics: Metrics;
  readonly bridge?: EventBridge;
  readonly logFile: string;
  /** ws://127.0.0.1:PORT/ws */
  readonly url: string;
  /** Opens a client on `url` (plus query) and tracks it for `stop`. */
  client(query?: string, options?: ConnectOptions): Promise<TestWsClient>;
  /** The JSON log lines written so far. */
  logs(): Array<Record<string, unknown>>;
  /** Closes the clients, the server, the bridge and the log; a second call waits on the first. */
  stop(): Promise<void>;
}

export async function startTestServer(db: Database, options: TestServerOptions = {}): Promise<TestServer> {
  const config = testConfig(options.config);
  const logFile = path.join(tempDir('tpws-log-'), 'daemon.log');
  const logger: Logger = createLogger({ level: 'debug', file: logFile });
  const metrics = createMetrics({ processMetrics: false });
  const server = createServer({
    config,
    tokenMode: options.tokenMode ?? 'reusable',
    db,
    logger,
    metrics,
    teampass: options.teampass,
    routes: options.routes,
    instanceId: options.instanceId,
    feed: (side) => createEventBridge({ db, config, logger, metrics, ...side }),
  });
  // Wired always, polling only when asked: an idle bridge reports event id 0 and replays nothing newer.
  const bridge = options.bridge ? server.feed : undefined;
  await bridge?.start();
  const { port } = await server.listen();
  const url = `ws://127.0.0.1:${port}/ws`;
  const clients: TestWsClient[] = [];
  let stopped: Promise<void> | undefined;
  return {
    server,
    db,
    config,
    metrics,
    bridge,
    logFile,
    url,
    async client(query = '', connectOptions = {}) {
      const c = await connect(`${url}${query}`, connectOptions);
      clients.push(c);
      return c;
    },
    logs() {
      let text = '';
      try {
        text = readFileSync(logFile, 'utf8');
      } catch {
        return [];
      }
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    stop() {
      stopped ??= (async () => {
        await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
        await server.stop();
        await server.feed.stop();
        await logger.close();
      })();
      return stopped;
    },
  };
}

export interface ServerSuiteOptions {
  /**
   * 'teampass' (default): TeamPass's tables and this project's migrations; 'daemon': the
   * migrations only, all an event bridge reads.
   */
  schema?: 'teampass' | 'daemon';
}

export interface ServerSuite {
  /** The test's fresh database. */
  readonly db: Database;
  /** Its URL, for connections of the test's own (the CLI, a raw mysql2 client). */
  readonly url: string;
  /** The server the test started last, if any. */
  readonly srv: TestServer | undefined;
  /** Starts the daemon core on `db`; stopped after the test. */
  start(options?: TestServerOptions): Promise<TestServer>;
  /** Starts an event bridge delivering to recording targets, on `on` or `db`; stopped after the test. */
  startBridge(overrides?: Partial<Config>, on?: Database): Promise<BridgeHarness>;
  /** Another handle on the database, as TeamPass's PHP producers have their own; closed after the test. */
  connection(): Promise<Database>;
}

/**
 * Per test: a fresh database, and the servers, bridges and extra connections the test opens on
 * it, all closed after it.
 */
export function useServerSuite(backend: () => Backend, options: ServerSuiteOptions = {}): ServerSuite {
  let db: Database | undefined;
  let url = '';
  const servers: TestServer[] = [];
  const bridges: BridgeHarness[] = [];
  const connections: Database[] = [];
  const current = (): Database => {
    if (!db) throw new Error('the suite database exists only inside a test or its beforeEach');
    return db;
  };
  beforeEach(async function () {
    this.timeout(60_000);
    url = await backend().newDatabaseUrl();
    db = options.schema === 'daemon' ? await migrated(await openTestDatabase(url)) : await createTeampassDatabase(url);
  });
  afterEach(async () => {
    for (const s of servers.splice(0).reverse()) await s.stop();
    for (const b of bridges.splice(0).reverse()) await b.bridge.stop();
    for (const c of connections.splice(0)) await c.close();
    await db?.close();
    db = undefined;
  });
  return {
    get db() {
      return current();
    },
    get url() {
      return url;
    },
    get srv() {
      return servers.at(-1);
    },
    async start(serverOptions = {}) {
      const srv = await startTestServer(current(), serverOptions);
      servers.push(srv);
      return srv;
    },
    async startBridge(overrides = {}, on) {
      const h = await startBridge(on ?? current(), overrides);
      bridges.push(h);
      return h;
    },
    async connection() {
      const c = await openTestDatabase(url);
      connections.push(c);
      return c;
    },
  };
}

/** The frame a successful connection starts with. */
export async function connected(client: TestWsClient): Promise<Record<string, unknown>> {
  return client.next((f) => f.type === 'connected' || f.type === 'error');
}

/** Waits until a log line matching `predicate` reached the log file (lines are written asynchronously). */
export async function waitForLog(server: TestServer, predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return waitFor(() => server.logs().find(predicate), 'a matching log line', timeoutMs);
}
