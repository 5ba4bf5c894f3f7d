import chalk from 'chalk';
import { z } from 'zod';
import { Command } from 'commander';
import os from 'node:os';
import { createEventBridge, type EventBridge } from '../src/bridge/index.js';
import type { Config, LoadedConfig } from '../src/config/index.js';
import { missingTables, redactUrl, requireWebsocketTables, verifyDatabase, type Database } from '../src/db/index.js';
import { demoBanner, demoRoutes, prepareDemo } from '../src/demo/index.js';
import { createLogger, type Logger } from '../src/log/index.js';
import { createMetrics, metricsRoute } from '../src/metrics/index.js';
import { assertCanListen, clientRoutes, createServer, healthzRoute, type FeedHealth, type HttpRoute, type TeampassWsServer } from '../src/server/index.js';
import type { CommandContext } from './context.js';
import { addConfigOptions, configFlagsSchema, createCommandDatabase, loadCommandConfig, parseOptions } from './options.js';
import { chooseServeMode } from './serve-mode.js';
import { superviseWorkers, supervisesWorkers, workerCount, workerRole } from './serve-workers.js';
import { stopSignal } from './signals.js';

const serveOptions = configFlagsSchema.extend({
  demo: z.boolean().optional(),
});
type ServeOptions = z.infer<typeof serveOptions>;

/** What demo mode gets to prepare: the database is the embedded one or one named for the demo. */
export interface DemoHookArgs {
  db: Database;
  config: Config;
  logger: Logger;
  /** The `--db` argument other commands (emit) need to reach this database; '' for the embedded default. */
  dbArgument: string;
  /** Polls the events table at once (an event written by the demo page shows without delay). */
  pollNow(): void;
}

export interface DemoSetup {
  /** Plain-HTTP routes of the demo (its page, its endpoints). */
  routes: HttpRoute[];
  /** Printed once the daemon listens: warnings loudly, then the lines. */
  banner(httpUrl: string): { warnings: string[]; lines: string[] };
}

/** Prepares demo mode (dataset, tokens, page): used by `serve --demo` and when no database is named. */
export type DemoHook = (args: DemoHookArgs) => Promise<DemoSetup>;

export interface ServeExtensions {
  demo?: DemoHook;
}

/** The demo dataset, page and banner of src/demo. */
export const defaultDemoHook: DemoHook = async ({ db, config, logger, dbArgument, pollNow }) => {
  const demo = await prepareDemo(db);
  return {
    routes: demoRoutes({ db, demo, emitDbArgument: dbArgument, wakePort: config.wake_port, onEventWritten: pollNow, logger }),
    banner: (httpUrl) => demoBanner(demo, `${httpUrl}/demo`, dbArgument),
  };
};

export function serveCommand(ctx: CommandContext, extensions: ServeExtensions = {}): Command {
  const cmd = new Command('serve')
    .description("run the real-time daemon: a drop-in replacement for TeamPass's PHP websocket server")
    .option('--demo', 'demo mode: a TeamPass-shaped demo dataset in the embedded database, demo tokens and a live demo page');
  addConfigOptions(cmd);
  cmd.addHelpText(
    'after',
    `
--demo runs the demo on the embedded SQLite file ./teampass-ws-demo.sqlite, NOT connected to
TeamPass; so does a bare \`teampass-ws serve\` typed at a terminal when there is no config file and
no TeamPass on this machine. Anything else that names no database is an error.
--workers N (or auto: one per CPU core) runs N daemon processes behind the port (README: One daemon per core).
SIGHUP reopens the log file (log rotation: templates/logrotate).
Stop it with SIGTERM or Ctrl-C: clients are closed (1000; 1001 with the teampass-ws subprotocol) and their rows closed.

Examples:
  teampass-ws serve --teampass-root /var/www/html/teampass
  teampass-ws serve --db mysql://teampass:secret@127.0.0.1:3306/teampass --port 8080 --log-file /var/log/teampass-ws.log
  teampass-ws serve --demo`,
  );
  return cmd.action(async (raw: unknown) => {
    ctx.exitCode = await runServe(parseOptions(serveOptions, raw, 'serve'), ctx, extensions);
  });
}

/** Resolves once the daemon has shut down after SIGTERM / SIGINT. */
export async function runServe(opts: ServeOptions, ctx: CommandContext, extensions: ServeExtensions = {}): Promise<number> {
  const { out } = ctx;
  // Listening from the start: a SIGTERM during startup stops the daemon once it is up, cleanly,
  // and a SIGHUP (logrotate) never kills it.
  const stop = stopSignal();
  let logger: Logger | undefined;
  const onHangup = () => logger?.reopen();
  process.on('SIGHUP', onHangup);
  let server: TeampassWsServer<EventBridge> | undefined;
  let bridge: EventBridge | undefined;
  let db: Database | undefined;
  let up = false;
  const cleanup = async () => {
    await server?.stop();
    await ctx.prebound?.close();
    await bridge?.stop();
    await db?.close();
    if (up) logger?.info('Daemon stopped');
    await logger?.close();
  };
  try {
    const loaded = await loadCommandConfig(opts);
    const { config } = loaded;
    const mode = chooseServeMode({ loaded, demo: Boolean(opts.demo), terminal: Boolean(process.stdin.isTTY && process.stdout.isTTY) });
    const demoMode = mode === 'demo';
    // The port bound early (commands/main.ts) when it is the one configured; else it must be free
    // before anything is opened, prepared or logged.
    const gate = ctx.prebound && (await ctx.prebound.listensOn(config.host, config.port)) ? ctx.prebound : undefined;
    if (ctx.prebound && !gate) await ctx.prebound.close();
    if (!gate) await assertCanListen(config.host, config.port);
    logger = createLogger({
      level: config.log_level,
      file: config.log_file || undefined,
      fileCheckIntervalMs: config.log_check_interval_ms,
      // The log's own lines go to the file; without one, to standard error as human lines.
      pretty: !config.log_file || Boolean(process.stderr.isTTY),
      color: Boolean(process.stderr.isTTY) && chalk.level > 0,
      jsonStdout: config.log_stdout,
    });
    // With workers, this process only supervises them (commands/serve-workers.ts).
    if (supervisesWorkers(config.workers)) {
      const code = await superviseWorkers({ count: workerCount(config.workers), wakePort: config.wake_port, logger, stop: stop.received, say: (line) => out.info(line) });
      await cleanup();
      return code;
    }
    const worker = workerRole();
    const opened = createCommandDatabase(loaded);
    db = opened.db;
    const metrics = createMetrics({ mode });
    // Short enough that `<instance>-<n>` fits websocket_connections.resource_id (50 characters).
    const instanceId = `${os.hostname().split('.')[0]!.slice(0, 30)}:${config.port}${worker ? `/${worker.index}` : ''}`;
    // The demo's routes join this list once its dataset is ready: routes are looked up per request.
    const health = (): FeedHealth | undefined => bridge?.health();
    const routes: HttpRoute[] = [healthzRoute({ metrics, db, config, instanceId, mode, health }), metricsRoute({ metrics, health }), ...clientRoutes()];
    // A worker's wake-ups come from the primary, which alone can bind wake_port.
    const feed = { db, config: worker ? { ...config, wake_port: 0 } : config, logger, metrics };
    // Server and bridge wired here, once: the bridge delivers to the server's connections, the
    // server asks the bridge for the newest id and for recovery. The bridge polls from start().
    server = createServer({ config, tokenMode: loaded.tokenMode, db, logger, metrics, teampass: loaded.teampass, routes, instanceId, gate, feed: (side) => createEventBridge({ ...feed, ...side }) });
    // The port first: TeamPass's admin panel checks it half a second after starting the unit,
    // and the database may take longer to answer. Upgrades wait until it does.
    await server.bind();

    await verifyDatabase(db);
    if (!demoMode) await requireWebsocketTables(db);
    if (!demoMode) await warnWithoutTeampassTables(db, ctx);
    const demo = demoMode
      ? await (extensions.demo ?? defaultDemoHook)({ db, config, logger, dbArgument: emitDbArgument(config, opened.embedded), pollNow: () => bridge?.pollNow() })
      : undefined;
    routes.push(...(demo?.routes ?? []));
    bridge = server.feed;
    worker?.onWake(() => bridge?.pollNow());
    await bridge.start();
    const { host, port } = await server.listen();
    up = true;

    const banner = demo?.banner(`http://${displayHost(host)}:${port}`);
    describeStart(ctx, loaded, db, demoMode && !banner?.warnings.length);
    // All before the listening line, so whoever waits for that line has seen them.
    for (const warning of banner?.warnings ?? []) out.info(chalk.yellow(`! ${warning}`));
    for (const line of banner?.lines ?? []) out.info(line);
    out.info(`teampass-ws listening on ws://${host}:${port}`);
    logger.info('Daemon listening', { host, port, database: db.description, token_mode: loaded.tokenMode, mode, instance: instanceId });
    worker?.up();

    const signal = await stop.received;
    logger.info('Shutting down', { signal });
    out.info(`teampass-ws: ${signal} received, closing connections`);
    await cleanup();
    out.info('teampass-ws stopped');
    return 0;
  } catch (err) {
    // A failure before the daemon was up is the command's one-line error, nothing more.
    if (up) logger?.error('Daemon failed', { error: (err as Error).message });
    await cleanup().catch(() => undefined);
    throw err;
  } finally {
    stop.dispose();
    process.off('SIGHUP', onHangup);
  }
}

/** Which database this is; `notTeampass` when nothing else says loudly that it is not TeamPass's. */
function describeStart(ctx: CommandContext, loaded: LoadedConfig, db: Database, notTeampass: boolean): void {
  const { out } = ctx;
  if (notTeampass) {
    out.info(chalk.yellow(`! NOT CONNECTED TO TEAMPASS: serving the demo database ${db.description}.`));
    out.info(chalk.yellow('! To serve TeamPass, name its database: --teampass-root <TeamPass folder> or --db mysql://…'));
  } else {
    out.info(`Database: ${db.description}${loaded.teampass ? ` (TeamPass ${loaded.teampass.version})` : ''}, websocket tokens ${loaded.tokenMode}`);
  }
}

function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** The --db value `emit` needs to reach this database, without a password in it. */
function emitDbArgument(config: Config, embedded: boolean): string {
  if (embedded) return '';
  return config.db.startsWith('sqlite:') ? config.db : redactUrl(config.db);
}

/** Not fatal (the tables may come), but every authentication fails until they do. */
async function warnWithoutTeampassTables(db: Database, ctx: CommandContext): Promise<void> {
  if ((await missingTables(db, [db.t.users])).length === 0) return;
  ctx.out.info(chalk.yellow(`! ${db.description} has no TeamPass table ${db.t.users}: every authentication will fail.`));
  ctx.out.info(chalk.yellow("! Check the database name and the table prefix (TeamPass's DB_PREFIX, --prefix), or use --teampass-root."));
}
