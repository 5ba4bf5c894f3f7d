import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { AccessCache, MiscSettings } from '../access/index.js';
import { Authenticator, JwtKeyring } from '../auth/index.js';
import type { Config } from '../config/index.js';
import { databaseError, type Database } from '../db/index.js';
import type { Logger } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import { CloseCode, selectSubprotocol, type PingFrame } from '../protocol/index.js';
import type { TeampassSettings } from '../teampass/index.js';
import { ConnectionAudit } from './audit.js';
import { ClientLink, linkLimits, type LinkDeps } from './client-link.js';
import { clientInfo, DaemonWebSocket } from './client-socket.js';
import { handleMessage } from './actions.js';
import { Handshake } from './handshake.js';
import { SessionTeardown } from './session-teardown.js';
import { addressKey, clientAddress, TrustedProxies, type ClientAddress } from './client-ip.js';
import type { ServerContext } from './context.js';
import type { ConnectionDirectory, ConnectionSide, EventFeed, HttpRoute, UserEventHooks } from '../delivery.js';
import { EditionLocks } from './edition-locks.js';
import { answerStarting, httpHandler, isHttpRoutePath, rejectUpgrade } from './http-routes.js';
import { refreshAccess } from './notify.js';
import { OriginPolicy } from './origin.js';
import { handshakeLimits, PortGate } from './port-gate.js';
import { Presence } from './presence.js';
import { listenError } from './listen-error.js';
import { FailedAuthLimiter } from './rate-limit.js';
import { ConnectionRegistry } from './registry.js';
import { SessionMonitor } from './session-monitor.js';
import { readUpgradeRequest, type UpgradeRequest } from './upgrade-request.js';
import { Admission, readFileLimit } from './admission.js';
import { UpgradeQueue } from './upgrade-queue.js';

export type { ConnectionDirectory, ConnectionSide, DeliveryTarget, EventFeed, FeedHealth, HttpRoute, UserEventHooks } from '../delivery.js';
export { CloseCode } from '../protocol/index.js';
export { assertCanListen } from './listen-error.js';
export { PortGate } from './port-gate.js';
export { HEALTH_SERVICE_NAME, healthzRoute, type HealthBody, type HealthDeps } from './healthz.js';
export { CLIENT_SCRIPT_PATH, clientBundlePath, clientRoutes } from './client-route.js';

export interface ServerDeps<F extends EventFeed> {
  config: Config;
  tokenMode: 'reusable' | 'single_use';
  db: Database;
  logger: Logger;
  metrics: Metrics;
  /** TeamPass's settings.php, when --teampass-root gave it (3.1's JWT secret, the key file). */
  teampass?: TeampassSettings;
  /** Extra plain-HTTP routes, tried in order (/healthz, /metrics, the client script, the demo). */
  routes?: HttpRoute[];
  /** The listening socket, when it was bound before the rest was loaded; else created here. */
  gate?: PortGate;
  /**
   * Prefix of connection ids (websocket_connections.resource_id), stable across restarts of one
   * daemon (e.g. host:port) so the rows a crashed run left open are closed at the next start;
   * random when absent.
   */
  instanceId?: string;
  /**
   * Builds the event feed (the bridge) over this server's connections: last_event_id in
   * `connected`, and recovery (?since=, since_event_id). Called once, while the server is built.
   */
  feed: (side: ConnectionSide) => F;
}

export interface TeampassWsServer<F extends EventFeed = EventFeed> {
  /**
   * Listens on config host:port at once, before any database work: TeamPass's admin panel checks
   * the port half a second after starting the unit. Until `listen` completes, upgrades wait and
   * /healthz answers 503 "starting". Safe to call more than once.
   */
  bind(): Promise<{ host: string; port: number }>;
  /** Binds (if not yet), reads TeamPass's settings, starts the timers, then serves the upgrades that waited. */
  listen(): Promise<{ host: string; port: number }>;
  /** Stops accepting, closes clients with 1001, records their rows disconnected; safe to call twice. */
  stop(): Promise<void>;
  readonly directory: ConnectionDirectory;
  readonly hooks: UserEventHooks;
  /** The feed built by `deps.feed` over `directory` and `hooks`. */
  readonly feed: F;
  /** The bound port (0 before listen). */
  readonly port: number;
}

/** How long shutdown waits for clients to complete the closing handshake (ms). */
const SHUTDOWN_GRACE_MS = 3000;


export function createServer<F extends EventFeed>(deps: ServerDeps<F>): TeampassWsServer<F> {
  const { config, db, logger, metrics } = deps;
  const instanceId = deps.instanceId ?? randomBytes(3).toString('hex');
  const settings = new MiscSettings(db);
  const registry = new ConnectionRegistry(metrics);
  const keyring = new JwtKeyring(settings, deps.teampass, config.jwt_secret, logger);
  let stopping: Promise<void> | undefined;
  const access = new AccessCache(db, settings, config.access_refresh_sec * 1000);
  const hooks: UserEventHooks = {
    async folderPermissionChanged(userId) {
      if (registry.countForUser(userId) === 0) {
        access.forget(userId);
        return;
      }
      await refreshAccess(ctx, userId);
    },
    sessionExpired(userId, reason) {
      const connections = [...registry.byUser(userId)];
      if (connections.length > 0) logger.info('Session expired: closing the user connections', { user_id: userId, reason, connections: connections.length });
      for (const connection of connections) connection.close(CloseCode.AuthFailed, 'session expired');
    },
  };

  const feed = deps.feed({ directory: registry, hooks });
  const ctx: ServerContext = {
    config,
    logger,
    metrics,
    settings,
    access,
    authenticator: new Authenticator({ db, tokenMode: deps.tokenMode, keyring }),
    registry,
    presence: new Presence(),
    locks: new EditionLocks(db),
    audit: new ConnectionAudit(db, logger),
    feed,
    stopping: () => stopping !== undefined,
  };
  const proxies = new TrustedProxies(config.trusted_proxies);
  const failedAuth = new FailedAuthLimiter();
  const origin = new OriginPolicy(config.allowed_origins, () => settings.value('cpassman_url'));
  const monitor = new SessionMonitor(ctx, db);
  const links = new Set<ClientLink>();
  let lastLinkClosed: (() => void) | undefined;
  const forget = (link: ClientLink) => {
    links.delete(link);
    if (links.size === 0) lastLinkClosed?.();
  };
  let counter = 0;
  let heartbeat: NodeJS.Timeout | undefined;
  let boundPort = 0;
  let ready = false;

  const wss = new WebSocketServer<typeof DaemonWebSocket>({
    WebSocket: DaemonWebSocket,
    noServer: true,
    maxPayload: config.max_frame_bytes,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (offered) => selectSubprotocol(offered),
  });
  const routeHandler = httpHandler(deps.routes ?? [], logger);
  const limits = handshakeLimits(config);
  const gate = deps.gate ?? new PortGate(limits);
  const httpServer = gate.httpServer;
  // A gate bound before the configuration was complete takes the configured handshake limits.
  gate.setLimits(limits);
  gate.serveRequests((req, res) => (ready ? routeHandler(req, res) : answerStarting(req, res, routeHandler)));

  const admission = new Admission(
    { maxPending: config.max_pending_connections, maxPendingPerAddress: config.max_pending_per_ip, fileLimit: readFileLimit() },
    {
      refused: (reason) => metrics.connectionsRefused.inc({ reason }),
      fdLimitReached: (open, budget) =>
        logger.warn('Open-file limit reached: new connections are refused until some close', {
          open_sockets: open,
          budget,
          suggestion: 'Raise the limit (LimitNOFILE in the systemd unit, ulimit -n) or lower max_connections',
        }),
    },
  );
  // One listener function for every socket (close is emitted once).
  const socketClosed = () => {
    admission.socketClosed();
    metrics.openSockets.set(admission.openSockets);
  };
  httpServer.on('connection', (socket: Socket) => {
    if (!admission.socketOpened()) return socket.destroy();
    metrics.openSockets.set(admission.openSockets);
    socket.on('close', socketClosed);
  });

  // Each client gets only the collaborators it uses: the handshake, the teardown, and its answers.
  const linkDeps: LinkDeps = {
    config,
    logger,
    metrics,
    failedAuth,
    origin,
    handshake: new Handshake({ ...ctx, failedAuth }),
    teardown: new SessionTeardown(ctx),
    answer: (connection, message) => handleMessage(ctx, connection, message),
    limits: linkLimits(config),
  };
  const accept = (ws: DaemonWebSocket, req: http.IncomingMessage, request: UpgradeRequest, address: ClientAddress, credentialWaitOver?: () => void) => {
    counter += 1;
    const link = new ClientLink(ws, clientInfo(address, req.headers['user-agent']), `${instanceId}-${counter}`, linkDeps, forget);
    links.add(link);
    link.start(req, request, credentialWaitOver);
  };

  const refuseWhileStopping = (socket: Duplex) => rejectUpgrade(socket, 503, 'The daemon is shutting down; reconnect shortly.');
  const upgrades = new UpgradeQueue((err) => logger.error('Could not complete a websocket upgrade', { error: (err as Error).message }));
  /** Writes the 101 and sets up the client's link, in its turn (see UpgradeQueue). */
  const completeUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer, request: UpgradeRequest, address: ClientAddress, credentialWaitOver?: () => void) => {
    if (socket.destroyed) return;
    if (stopping) return refuseWhileStopping(socket);
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.transport = socket;
      if (credentialWaitOver) socket.off('close', credentialWaitOver);
      accept(ws, req, request, address, credentialWaitOver);
    });
  };

  const upgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (stopping) return refuseWhileStopping(socket);
    if (isHttpRoutePath(req.url)) {
      return rejectUpgrade(socket, 400, `${(req.url ?? '/').split('?')[0].slice(0, 200)} is an HTTP endpoint; connect the websocket to /ws (or any other path).`);
    }
    const request = readUpgradeRequest(req);
    const address = clientAddress(req, proxies);
    if (request.credential) return upgrades.add(() => completeUpgrade(req, socket, head, request, address));
    // Without a credential the socket waits for a first `authenticate`: such sockets are capped,
    // so they can never take the room authenticated users need.
    const key = addressKey(address.ip);
    const refused = admission.admitPending(key);
    if (refused) {
      logger.debug('Connection refused: too many connections waiting for a credential', { ip: address.ip, reason: refused });
      return rejectUpgrade(socket, 503, 'Too many connections are waiting to authenticate; connect with ?token=… or retry shortly.');
    }
    metrics.pendingConnections.set(admission.pendingSockets);
    const credentialWaitOver = () => {
      admission.pendingEnded(key);
      metrics.pendingConnections.set(admission.pendingSockets);
    };
    socket.once('close', credentialWaitOver);
    upgrades.add(() => completeUpgrade(req, socket, head, request, address, credentialWaitOver));
  };

  let bound: Promise<{ host: string; port: number }> | undefined;
  const bindPort = async () => {
    try {
      boundPort = (await gate.listen(config.host, config.port)).port;
    } catch (err) {
      throw listenError(err as NodeJS.ErrnoException, config.host, config.port);
    }
    httpServer.on('error', (err) => logger.error('HTTP server error', { error: err.message }));
    return { host: config.host, port: boundPort };
  };
  const bind = () => (bound ??= bindPort());

  const listen = async () => {
    await bind();
    try {
      await settings.refresh();
      if (deps.instanceId) {
        const closed = await ctx.audit.closeLeftOpen(instanceId);
        if (closed > 0) logger.warn('Closed connection rows an earlier run of this daemon left open', { instance: instanceId, rows: closed });
      }
    } catch (err) {
      throw databaseError(err, db);
    }
    const silentMs = config.pong_timeout_sec * 1000;
    heartbeat = setInterval(() => {
      const now = Date.now();
      const ping = JSON.stringify({ type: 'ping', timestamp: Math.floor(now / 1000) } satisfies PingFrame);
      for (const link of [...links]) link.heartbeat(now, silentMs, ping);
      failedAuth.prune(now);
    }, config.ping_interval_sec * 1000);
    monitor.start();
    ready = true;
    gate.openUpgrades(upgrade);
    return { host: config.host, port: boundPort };
  };

  const runStop = async () => {
    clearInterval(heartbeat);
    const closedServer = gate.close();
    await monitor.stop();
    // Upgrades still queued are refused now (503), not set up for a daemon on its way out.
    upgrades.flush();
    const pending = [...links];
    for (const link of pending) link.shutdown();
    const allClosed = links.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => (lastLinkClosed = resolve));
    if (!(await within(allClosed, SHUTDOWN_GRACE_MS))) for (const link of [...links]) link.socket.terminate();
    await allClosed;
    // Answers already under way finish (bounded) before the database and the log are closed under them.
    const inFlight = Promise.allSettled(pending.map((link) => link.settled()));
    if (!(await within(inFlight, SHUTDOWN_GRACE_MS))) logger.warn('Shutdown did not wait any longer for messages still being answered', { wait_ms: SHUTDOWN_GRACE_MS });
    await ctx.audit.settle();
    httpServer.closeAllConnections();
    wss.close();
    await closedServer;
    // A start that failed before the database answered is reported once, by the caller.
    if (ready) logger.info('Server stopped', { connections_closed: pending.length });
  };

  return {
    bind,
    listen,
    stop: () => (stopping ??= runStop()),
    directory: registry,
    hooks,
    feed,
    get port() {
      return boundPort;
    },
  };
}

/** Whether `promise` settled within `ms`; the timer is cleared either way. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
