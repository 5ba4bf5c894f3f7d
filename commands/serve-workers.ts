/**
 * `serve --workers N`: N daemon processes behind one port (node:cluster shares the listening
 * socket, the primary hands each new connection to a worker in turn). Each worker is a daemon
 * of its own in the multi-daemon sense: its own poller cursor, its own instance id, its own
 * connections; presence, per-user caps and get_stats count per worker. The primary only
 * supervises: it never opens the database nor serves a client. It binds wake_port (one process
 * only may) and passes each wake-up to every worker, restarts a worker that dies, and passes
 * SIGHUP (log reopen) and SIGTERM / SIGINT (clean stop) on.
 */
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { startWakeListener, type WakeListener } from '../src/bridge/wake.js';
import type { Logger } from '../src/log/index.js';

// Not TEAMPASS_WS_*: those are configuration keys, and an unknown one is an error.
const INDEX_ENV = 'TPWS_WORKER_INDEX';
const UP = 'teampass-ws:up';
const WAKE = 'teampass-ws:wake';
/** Restart delays double from the first to the last while a worker keeps dying young. */
const FIRST_RESTART_MS = 500;
const LAST_RESTART_MS = 30_000;
/** A worker that lived this long before dying is restarted after the first delay again. */
const HEALTHY_AFTER_MS = 60_000;

/** How many processes `workers` asks for: 'auto' is one per CPU core. */
export function workerCount(workers: number | 'auto'): number {
  return workers === 'auto' ? Math.min(64, Math.max(1, os.availableParallelism())) : workers;
}

/** Whether this process should supervise workers rather than serve itself. */
export function supervisesWorkers(workers: number | 'auto'): boolean {
  return cluster.isPrimary && workerCount(workers) > 1;
}

/** What a worker does differently from a lone daemon. */
export interface WorkerRole {
  /** 1-based, kept by the worker started in its place: the instance id stays the same. */
  readonly index: number;
  /** `fn` runs on each wake-up datagram the primary received. */
  onWake(fn: () => void): void;
  /** Tells the primary this worker listens (a worker that dies before is a failed start). */
  up(): void;
}

/** This process's role when the primary started it; undefined for a lone daemon. */
export function workerRole(): WorkerRole | undefined {
  const index = Number(process.env[INDEX_ENV]);
  if (!cluster.isWorker || !Number.isInteger(index) || index < 1) return undefined;
  // The channel to the primary must not keep a worker alive once serve has returned (a failed
  // start, a stop): the server keeps the process running while it serves.
  process.channel?.unref();
  return {
    index,
    onWake: (fn) => {
      process.on('message', (message: unknown) => {
        if (message === WAKE) fn();
      });
      // A 'message' listener refs the channel again.
      process.channel?.unref();
    },
    up: () => process.send?.(UP),
  };
}

export interface SuperviseOptions {
  count: number;
  wakePort: number;
  logger: Logger;
  /** The first SIGTERM / SIGINT. */
  stop: Promise<NodeJS.Signals>;
  /** A line for whoever started the daemon. */
  say(line: string): void;
}

interface Slot {
  worker?: Worker;
  startedAt: number;
  youngDeaths: number;
  restart?: NodeJS.Timeout;
}

/**
 * Starts the workers (the first alone, so a bad setting is reported once), keeps them running,
 * and stops them on the first SIGTERM / SIGINT. Resolves with 0 once every worker has stopped
 * cleanly; with the first worker's exit code when it could not start.
 */
export async function superviseWorkers(o: SuperviseOptions): Promise<number> {
  const { logger } = o;
  const slots = new Map<number, Slot>();
  let stopping = false;
  let anyUp = false;
  let failedStart: (code: number) => void = () => undefined;
  const startFailed = new Promise<number>((resolve) => (failedStart = resolve));
  let firstUp: () => void = () => undefined;
  const firstIsUp = new Promise<void>((resolve) => (firstUp = resolve));
  /** Workers that have listened at least once: all of them is worth a line, once. */
  const everUp = new Set<number>();
  /** Exits still to come, and the codes of workers stopped by the primary. */
  const exits = new Set<Promise<void>>();
  const stopCodes: number[] = [];

  const fork = (index: number): void => {
    const slot = slots.get(index) ?? { startedAt: 0, youngDeaths: 0 };
    slots.set(index, slot);
    const worker = cluster.fork({ [INDEX_ENV]: String(index) });
    Object.assign(slot, { worker, startedAt: Date.now(), restart: undefined });
    worker.on('message', (message: unknown) => {
      if (message !== UP) return;
      if (!anyUp) firstUp();
      anyUp = true;
      if (everUp.size === o.count || everUp.add(index).size < o.count) return;
      logger.info('Workers listening', { workers: o.count, wake_port: wake?.port ?? 0 });
      o.say(`teampass-ws: ${o.count} workers listening on one port`);
    });
    const exit = new Promise<void>((resolve) =>
      worker.once('exit', (code, signal) => {
        slot.worker = undefined;
        exits.delete(exit);
        resolve();
        if (stopping) return void stopCodes.push(code ?? 1);
        if (!anyUp) return failedStart(code || 1);
        const lived = Date.now() - slot.startedAt;
        slot.youngDeaths = lived >= HEALTHY_AFTER_MS ? 0 : slot.youngDeaths + 1;
        const delay = Math.min(LAST_RESTART_MS, FIRST_RESTART_MS * 2 ** Math.max(0, slot.youngDeaths - 1));
        logger.warn('Worker died; starting another in its place', { worker: index, code, signal, lived_ms: lived, restart_in_ms: delay });
        slot.restart = setTimeout(() => fork(index), delay);
      }),
    );
    exits.add(exit);
  };

  const each = (fn: (w: Worker) => void) => {
    for (const slot of slots.values()) if (slot.worker && !slot.worker.isDead()) fn(slot.worker);
  };
  // The primary's own log is reopened by serve's SIGHUP handler, as a lone daemon's is.
  const onHangup = () => each((w) => w.process.kill('SIGHUP'));
  process.on('SIGHUP', onHangup);
  let wake: WakeListener | undefined;
  let result: number;
  try {
    result = await run();
  } finally {
    stopping = true;
    for (const slot of slots.values()) clearTimeout(slot.restart);
    each((w) => w.process.kill('SIGTERM'));
    await Promise.all([...exits]);
    await wake?.close();
    process.off('SIGHUP', onHangup);
  }
  if (stopCodes.some((c) => c !== 0)) logger.warn('Some workers did not stop cleanly', { exit_codes: stopCodes });
  return result === 0 && stopCodes.some((c) => c !== 0) ? 1 : result;

  async function run(): Promise<number> {
    if (o.wakePort > 0) wake = await startWakeListener(o.wakePort, () => each((w) => w.isConnected() && w.send(WAKE)), logger);
    fork(1);
    const started = await Promise.race([firstIsUp.then(() => 'up' as const), startFailed, o.stop.then(() => 'stop' as const)]);
    if (started === 'stop') return 0;
    if (started !== 'up') return started;
    for (let index = 2; index <= o.count && !stopping; index += 1) fork(index);

    // From here on a worker that dies is restarted; only a signal ends it.
    const signal = await o.stop;
    logger.info('Stopping the workers', { signal });
    o.say(`teampass-ws: ${signal} received, stopping ${o.count} workers`);
    return 0;
  }
}
