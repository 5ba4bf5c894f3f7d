import type { Config } from '../config/index.js';
import { databaseError, EventsRepository, type Database } from '../db/index.js';
import type { Logger } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import type { ConnectionDirectory, EventFeed, UserEventHooks } from '../delivery.js';
import { Cleanup } from './cleanup.js';
import { EventPoller } from './poller.js';
import { Recovery } from './recovery.js';
import { EventRouter } from './router.js';
import { startWakeListener, type WakeListener } from './wake.js';

export type { CleanupResult } from './cleanup.js';
export { Cleanup } from './cleanup.js';
export { parseEventRow, isBadEvent, type RoutableEvent, type BadEvent, type ParsedEvent } from './event-frame.js';
export { isRecoverable, type ReplayResult } from './recovery.js';
export { mayReceive } from './router.js';

export interface EventBridgeDeps {
  db: Database;
  config: Config;
  logger: Logger;
  metrics: Metrics;
  directory: ConnectionDirectory;
  hooks: UserEventHooks;
}

export type EventBridge = EventFeed & {
  /** Reads the newest id, binds the wake-up port, runs a first cleanup and starts polling. */
  start(): Promise<void>;
  /** Stops polling, wake-ups and cleanup and waits for what is running; safe to call twice. */
  stop(): Promise<void>;
  /** Polls at once (coalesced with a poll already running). */
  pollNow(): void;
  /** The bound wake-up UDP port, or 0 when wake-ups are off. */
  wakePort(): number;
};

/**
 * The event bridge: what TeamPass's PHP producers INSERT into websocket_events reaches the
 * connections that may see it. Each instance keeps its own cursor, so several daemons on one
 * database each deliver every event; processed = 1 is only bookkeeping for TeamPass's tools.
 */
export function createEventBridge(deps: EventBridgeDeps): EventBridge {
  const { db, config, logger, metrics } = deps;
  const repo = new EventsRepository(db);
  const router = new EventRouter({ directory: deps.directory, hooks: deps.hooks, metrics, logger });
  const poller = new EventPoller(
    { repo, router, logger, metrics },
    { pollIntervalMs: config.poll_interval_ms, batchSize: config.poll_batch_size, watchMs: missingIdWatchMs(config), maxEventBytes: config.max_event_bytes },
  );
  const recovery = new Recovery({ db, repo, position: () => poller.position, batchSize: config.poll_batch_size, maxEventBytes: config.max_event_bytes, logger });
  const cleanup = new Cleanup(db, { retentionHours: config.event_retention_hours, intervalSec: config.cleanup_interval_sec }, logger);
  let wake: WakeListener | undefined;
  let started: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;
  let backlog: Promise<unknown> | undefined;

  const runStart = async () => {
    let startId: number;
    try {
      startId = await repo.startId();
    } catch (err) {
      throw databaseError(err, db);
    }
    if (stopped) return;
    if (config.wake_port > 0) wake = await startWakeListener(config.wake_port, () => poller.pollNow(), logger);
    // Nobody is left to receive older unprocessed rows live; marking them lets cleanup remove them.
    backlog = repo.markProcessedUpTo(startId).catch((err: Error) => logger.warn('Could not mark older events processed', { error: err.message }));
    cleanup.start();
    poller.start(startId);
    logger.info('Event bridge started', {
      after_event_id: startId,
      poll_interval_ms: config.poll_interval_ms,
      wake_port: wake?.port ?? 0,
      gap_grace_ms: config.gap_grace_ms,
      max_event_bytes: config.max_event_bytes,
    });
  };

  const runStop = async () => {
    await started?.catch(() => undefined);
    await Promise.all([poller.stop(), cleanup.stop(), wake?.close(), backlog]);
  };

  return {
    start: () => (started ??= runStart()),
    stop: () => (stopped ??= runStop()),
    pollNow: () => poller.pollNow(),
    wakePort: () => wake?.port ?? 0,
    lastEventId: () => poller.position,
    settledEventId: () => poller.settled,
    replay: (target, sinceId, scope) => recovery.replay(target, sinceId, scope),
    health: () => poller.health(),
  };
}

/** How long a missing id is watched for a late commit: gap_grace_ms, or (0) the event retention. */
export function missingIdWatchMs(config: Pick<Config, 'gap_grace_ms' | 'event_retention_hours'>): number {
  return config.gap_grace_ms > 0 ? config.gap_grace_ms : config.event_retention_hours * 3_600_000;
}
