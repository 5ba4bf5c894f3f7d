import type { EventRow, EventsRepository } from '../db/index.js';
import type { Logger } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import type { FeedHealth } from '../delivery.js';
import { isBadEvent, parseEventRow } from './event-frame.js';
import { MissingIds, type IdRange } from './gap-tracker.js';
import type { EventRouter } from './router.js';

export interface PollerOptions {
  pollIntervalMs: number;
  batchSize: number;
  /** How long a missing id is watched for a late commit before it is taken as gone (ms). */
  watchMs: number;
  /** Events whose frame is larger are logged, counted and never sent (bytes). */
  maxEventBytes: number;
}

export interface PollerDeps {
  repo: EventsRepository;
  router: EventRouter;
  logger: Logger;
  metrics: Metrics;
  clock?: () => number;
}

/**
 * A missing id younger than this is not probed: between taking an AUTO_INCREMENT value and writing
 * the row, an INSERT has the id without a row to lock, so a probe could call it absent.
 */
const PROBE_MIN_AGE_MS = 200;
/** Locking probes per poll, lowest runs first (they hold the settled watermark). */
const PROBES_PER_POLL = 4;
/** Runs of missing ids watched at once; past this the oldest is taken as gone, with a warning. */
const MAX_MISSING_RUNS = 1_000;
/** Runs re-read per poll. */
const RUNS_PER_READ = 200;
const MAX_BACKOFF_MS = 5_000;

/**
 * Reads websocket_events after its own read position and hands each row to the router.
 *
 * No event waits on another transaction: rows go out as soon as a poll sees them, in id order
 * within the poll. An id missing below a visible one (InnoDB makes ids visible at COMMIT, not in
 * id order) is watched: every poll re-reads the missing ids, and one that commits is delivered
 * live then, once. A locking probe tells a rolled-back id (settled at once) from an open
 * transaction (kept); an id still missing after `watchMs` is taken as gone.
 *
 * The settled watermark is the id below which nothing is missing: every id at or below it was
 * delivered or is gone. Live frames carry it, so a client resumes from it and never from the
 * highest id it saw (a late id below that would be lost).
 */
export class EventPoller {
  private readPosition = 0;
  private readonly unmarked: number[] = [];
  private readonly missing = new MissingIds();
  private reachable = true;
  private lastSuccessMs: number;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private again = false;
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  private readonly clock: () => number;

  constructor(
    private readonly deps: PollerDeps,
    private readonly opts: PollerOptions,
  ) {
    this.clock = deps.clock ?? Date.now;
    this.lastSuccessMs = this.clock();
  }

  /** Starts polling for ids above `afterId`. */
  start(afterId: number): void {
    if (this.state !== 'idle') return;
    this.readPosition = afterId;
    this.lastSuccessMs = this.clock();
    this.state = 'running';
    this.run();
  }

  /** The highest id read and dispatched; read synchronously by recovery. */
  get position(): number {
    return this.readPosition;
  }

  /** Every id at or below this was dispatched or is gone. */
  get settled(): number {
    const first = this.missing.first;
    return first === undefined ? this.readPosition : Math.min(this.readPosition, first - 1);
  }

  health(): FeedHealth {
    const pollLagMs = Math.max(0, this.clock() - this.lastSuccessMs);
    this.deps.metrics.pollLagSeconds.set(pollLagMs / 1000);
    return { dbReachable: this.reachable, pollLagMs, lastEventId: this.readPosition };
  }

  /** Polls at once; while a poll runs, one more follows it. While the database is down, backoff rules. */
  pollNow(): void {
    if (this.state !== 'running' || !this.reachable) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.run();
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private run(): void {
    this.timer = undefined;
    this.inFlight = this.pollOnce().then((delay) => {
      this.inFlight = undefined;
      if (this.state !== 'running') return;
      const next = this.again ? 0 : delay;
      this.again = false;
      this.timer = setTimeout(() => this.run(), next);
      this.timer.unref();
    });
  }

  /** One read and dispatch; returns the ms to wait before the next. Never throws. */
  private async pollOnce(): Promise<number> {
    let rows: EventRow[];
    try {
      rows = await this.deps.repo.readAfter(this.readPosition, this.opts.batchSize);
    } catch (err) {
      return this.failed(err);
    }
    this.succeeded();
    try {
      if (rows.length > 0) this.deps.metrics.eventsPolled.inc(rows.length);
      for (const row of rows) {
        if (this.state === 'stopped') return 0;
        const id = row.id;
        if (id <= this.readPosition) continue;
        if (id > this.readPosition + 1) this.noteMissing({ from: this.readPosition + 1, to: id - 1 });
        this.readPosition = id;
        await this.dispatch(row, id);
      }
      await this.watchMissing();
      await this.flushMarks();
      return rows.length >= this.opts.batchSize ? 0 : this.opts.pollIntervalMs;
    } catch (err) {
      return this.failed(err);
    }
  }

  private noteMissing(range: IdRange): void {
    this.missing.add(range, this.clock());
    while (this.missing.size > MAX_MISSING_RUNS) this.giveUp(this.missing.list(1)[0]!, `more than ${MAX_MISSING_RUNS} runs of missing ids are watched`);
  }

  /** Delivers missing ids that have committed since, settles rolled-back ones, gives up expired ones. */
  private async watchMissing(): Promise<void> {
    if (this.missing.size === 0) return;
    for (const row of await this.deps.repo.readRanges(this.missing.list(RUNS_PER_READ))) {
      const id = row.id;
      if (this.state === 'stopped') return;
      const since = this.missing.list().find((r) => r.from <= id && id <= r.to)?.since;
      this.missing.remove(id);
      this.deps.logger.info(`Event ${id} (${row.event_type}) committed after later ids; delivered now`, {
        event_id: id,
        late_ms: since === undefined ? undefined : this.clock() - since,
      });
      await this.dispatch(row, id);
    }
    const nowMs = this.clock();
    for (const run of this.missing.list(PROBES_PER_POLL)) {
      const age = nowMs - run.since;
      if (age >= this.opts.watchMs) {
        this.giveUp(run, `it did not commit within ${Math.round(this.opts.watchMs / 1000)} s (gap_grace_ms, else event_retention_hours)`);
        continue;
      }
      if (age < PROBE_MIN_AGE_MS) continue;
      // 'committed' rows are read by the next poll; 'in_flight' and 'unsupported' stay watched.
      if ((await this.deps.repo.probeGap(run.from, run.to)) === 'absent') {
        this.missing.drop(run);
        this.deps.logger.debug(`Event id ${label(run)} is held by no transaction (rolled back or never used); settled`, { from: run.from, to: run.to });
      }
    }
  }

  private giveUp(run: IdRange, why: string): void {
    this.missing.drop(run);
    this.deps.logger.warn(`Event id ${label(run)} is no longer watched: ${why}; if it commits later, no client gets it`, { from: run.from, to: run.to });
    this.deps.metrics.badEvents.inc({ reason: 'never_committed' });
  }

  private async dispatch(row: EventRow, id: number): Promise<void> {
    this.unmarked.push(id);
    const event = parseEventRow(row, this.opts.maxEventBytes);
    if (isBadEvent(event)) {
      this.deps.logger.warn(`Skipping event ${id}: ${event.detail}`, { event_id: id, reason: event.bad, event_type: row.event_type });
      this.deps.metrics.badEvents.inc({ reason: event.bad });
      return;
    }
    this.deps.router.deliver(event, this.settled);
    await this.deps.router.afterDelivery(event);
  }

  private async flushMarks(): Promise<void> {
    if (this.unmarked.length === 0) return;
    const ids = this.unmarked.splice(0);
    try {
      await this.deps.repo.markProcessed(ids);
    } catch (err) {
      this.unmarked.unshift(...ids);
      throw err;
    }
  }

  private succeeded(): void {
    this.lastSuccessMs = this.clock();
    this.failures = 0;
    this.deps.metrics.pollLagSeconds.set(0);
    if (!this.reachable) {
      this.reachable = true;
      this.deps.logger.info('The events table answers again; delivering the events committed meanwhile', { after_event_id: this.readPosition });
    }
  }

  private failed(err: unknown): number {
    this.failures += 1;
    const lagMs = this.clock() - this.lastSuccessMs;
    this.deps.metrics.pollLagSeconds.set(lagMs / 1000);
    if (this.reachable) {
      this.reachable = false;
      this.deps.logger.warn('Cannot read the events table; retrying with backoff, connections stay open and no event is lost', {
        error: (err as Error).message,
        after_event_id: this.readPosition,
      });
    }
    const base = Math.max(this.opts.pollIntervalMs, 100);
    return Math.min(MAX_BACKOFF_MS, base * 2 ** Math.min(this.failures - 1, 10));
  }
}

function label(run: IdRange): string {
  return run.from === run.to ? `${run.from}` : `${run.from}-${run.to}`;
}
