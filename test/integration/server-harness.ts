/**
 * Starts the real daemon core (createServer) on 127.0.0.1 and a free port against a test
 * database, with a JSON log file the tests can read back. Shared by the server-*.test.ts suites.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createEventBridge, type EventBridge } from '../../src/bridge/index.js';
import { defaultConfig, type Config } from '../../src/config/index.js';
import type { Database } from '../../src/db/index.js';
import { createLogger, type Logger } from '../../src/log/index.js';
import { createMetrics, type Metrics } from '../../src/metrics/index.js';
import { createServer, type HttpRoute, type TeampassWsServer } from '../../src/server/index.js';
import type { TeampassSettings } from '../../src/teampass/index.js';
import { tempDir, type Backend } from '../helpers/backends.js';
import { createTeampassDatabase } from '../helpers/teampass-fixture.js';
import { connect, type ConnectOptions, type TestWsClient } from '../helpers/ws-client.js';

export interface TestServerOptions {
  config?: Partial<Config>;
  tokenMode?: 'reusable' | 'single_use';
  teampass?: TeampassSettings;
  routes?: HttpRoute[];
  /** Attach the real event bridge (poller, recovery). */
  bridge?: boolean;
  instanceId?: string;
}

export interface TestServer {
  readonly server: TeampassWsServer;
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
  stop(): Promise<void>;
}

/** Small intervals so time-based behaviour shows within a second or two. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    ...defaultConfig(),
    host: '127.0.0.1',
    port: 0,
    session_check_sec: 1,
    ping_interval_sec: 1,
    pong_timeout_sec: 60,
    auth_timeout_sec: 3,
    poll_interval_ms: 50,
    ...overrides,
  };
}

export async function startTestServer(db: Database, options: TestServerOptions = {}): Promise<TestServer> {
  const config = testConfig(options.config);
  const logFile = path.join(tempDir('tpws-log-'), 'daemon.log');
  const logger: Logger = createLogger({ level: 'debug', file: logFile });
  const metrics = createMetrics({ processMetrics: false });
  const server = createServer({ config, tokenMode: options.tokenMode ?? 'reusable', db, logger, metrics, teampass: options.teampass, routes: options.routes, instanceId: options.instanceId });
  let bridge: EventBridge | undefined;
  if (options.bridge) {
    bridge = createEventBridge({ db, config, logger, metrics, directory: server.directory, hooks: server.hooks });
    server.attachFeed(bridge);
    await bridge.start();
  }
  const { port } = await server.listen();
  const url = `ws://127.0.0.1:${port}/ws`;
  const clients: TestWsClient[] = [];
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
    async stop() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await server.stop();
      await bridge?.stop();
      await logger.close();
    },
  };
}

/** The frame a successful connection starts with. */
export interface ServerSuite {
  /** The test's fresh TeamPass database. */
  readonly db: Database;
  /** The server the test started, if any; stopped after the test. */
  readonly srv: TestServer | undefined;
  start(options?: TestServerOptions): Promise<TestServer>;
}

/** Per test: a fresh TeamPass database, and the server the test starts on it, both closed after it. */
export function useServerSuite(backend: () => Backend): ServerSuite {
  let db: Database | undefined;
  let srv: TestServer | undefined;
  beforeEach(async () => {
    db = await createTeampassDatabase(await backend().newDatabaseUrl());
  });
  afterEach(async () => {
    await srv?.stop();
    srv = undefined;
    await db?.close();
  });
  return {
    get db() {
      return db!;
    },
    get srv() {
      return srv;
    },
    async start(options = {}) {
      srv = await startTestServer(db!, options);
      return srv;
    },
  };
}

export async function connected(client: TestWsClient): Promise<Record<string, unknown>> {
  return client.next((f) => f.type === 'connected' || f.type === 'error');
}

/** Waits until `condition` holds (polling), or fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${condition.toString().slice(0, 200)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until a log line matching `predicate` reached the log file (lines are written asynchronously). */
export async function waitForLog(server: TestServer, predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 5000): Promise<Record<string, unknown>> {
  await waitFor(() => server.logs().some(predicate), timeoutMs);
  return server.logs().find(predicate)!;
}
