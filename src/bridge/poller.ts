import type { EventRow } from '../db/rows.js';
import type { Logger } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import type { FeedHealth } from '../server/delivery.js';
import { isBadEvent, parseEventRow } from './event-frame.js';
import type { EventsRepository } from './events-repo.js';
import { findGaps, GapTracker, type IdRange } from './gap-tracker.js';
import { LateCommitWatch } from './late-commits.js';
import type { EventRouter } from './router.js';

export interface PollerOptions {
  pollIntervalMs: number;
  batchSize: number;
  /** How long a missing id is waited for before the events after it go out without it (ms). */
  gapGraceMs: number;
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
const MAX_BACKOFF_MS = 5_000;
/** Ids given up are watched this long (at least) for a late commit worth a warning. */
const LATE_WATCH_MIN_MS = 60_000;

type GapVerdict = 'given_up' | 'hold' | 'reread';

/**
 * Reads websocket_events after its own cursor and hands each row to the router, in id order.
 *
 * Ordering across a gap: a connection drops any event id at or below the last one it sent, so an
 * id that commits after a higher one cannot be sent late. The poller therefore holds dispatch at
 * the first missing id until that id commits (then both go out in order), until a locking probe
 * shows nothing holds it (a rollback: given up at once), or until gap_grace_ms has passed (given
 * up; a later commit is logged and left to recovery). Nothing after the gap is buffered: each
 * poll re-reads from the cursor, so memory stays bounded by one batch.
 */
export class EventPoller {
  private cursor = 0;
  private highestRead = 0;
  private readonly unmarked: number[] = [];
  private readonly gaps = new GapTracker();
  private readonly late = new LateCommitWatch();
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
    this.cursor = afterId;
    this.highestRead = afterId;
    this.lastSuccessMs = this.clock();
    this.state = 'running';
    this.run();
  }

  /** Every id at or below this has been dispatched (or given up); read synchronously by recovery. */
  get position(): number {
    return this.cursor;
  }

  health(): FeedHealth {
    const pollLagMs = Math.max(0, this.clock() - this.lastSuccessMs);
    this.deps.metrics.pollLagSeconds.set(pollLagMs / 1000);
    return { dbReachable: this.reachable, pollLagMs, lastEventId: this.cursor };
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
      rows = await this.deps.repo.readAfter(this.cursor, this.opts.batchSize);
    } catch (err) {
      return this.failed(err);
    }
    this.succeeded();
    try {
      const delay = await this.dispatchRows(rows);
      await this.flushMarks();
      await this.watchLateCommits();
      return delay;
    } catch (err) {
      return this.failed(err);
    }
  }

  private async dispatchRows(rows: EventRow[]): Promise<number> {
    const ids = rows.map((r) => Number(r.id));
    const fresh = ids.filter((id) => id > this.highestRead).length;
    if (fresh > 0) {
      this.deps.metrics.eventsPolled.inc(fresh);
      this.highestRead = ids[ids.length - 1]!;
    }
    this.gaps.observe(findGaps(this.cursor, ids), ids.length > 0 ? ids[ids.length - 1]! : this.cursor, this.clock());
    for (const row of rows) {
      if (this.state === 'stopped') return 0;
      const id = Number(row.id);
      if (id > this.cursor + 1) {
        const verdict = await this.resolveGap({ from: this.cursor + 1, to: id - 1 });
        if (verdict === 'hold') return this.holdDelay();
        if (verdict === 'reread') return 0;
      }
      await this.dispatch(row, id);
    }
    return rows.length >= this.opts.batchSize ? 0 : this.opts.pollIntervalMs;
  }

  private async resolveGap(gap: IdRange): Promise<GapVerdict> {
    const age = this.gaps.ageMs(gap, this.clock());
    if (age >= this.opts.gapGraceMs) {
      // The rows were read before any hook awaited: look once more before giving the ids up.
      if ((await this.deps.repo.readRanges([gap])).length > 0) return 'reread';
      this.giveUp(gap, 'grace');
      return 'given_up';
    }
    if (age >= PROBE_MIN_AGE_MS) {
      const probe = await this.deps.repo.probeGap(gap.from, gap.to);
      if (probe === 'absent') {
        this.giveUp(gap, 'absent');
        return 'given_up';
      }
      if (probe === 'committed') return 'reread';
    }
    return 'hold';
  }

  private giveUp(gap: IdRange, why: 'grace' | 'absent'): void {
    const ids = gap.from === gap.to ? `${gap.from}` : `${gap.from}-${gap.to}`;
    if (why === 'grace') {
      this.deps.logger.warn(`Event id ${ids} did not commit within gap_grace_ms (${this.opts.gapGraceMs} ms); the events after it go out without it`, {
        from: gap.from,
        to: gap.to,
      });
    } else {
      this.deps.logger.debug(`Event id ${ids} is held by no transaction (rolled back or never used); moving on`, { from: gap.from, to: gap.to });
    }
    this.late.add(gap, this.clock(), Math.max(LATE_WATCH_MIN_MS, 6 * this.opts.gapGraceMs));
    this.cursor = gap.to;
    this.gaps.resolvedUpTo(gap.to);
  }

  /** Until the first gap is due for a probe or its grace ends, but never longer than the poll interval. */
  private holdDelay(): number {
    const nowMs = this.clock();
    const gap = { from: this.cursor + 1, to: this.cursor + 1 };
    const age = this.gaps.ageMs(gap, nowMs);
    const dueIn = [this.opts.gapGraceMs - age, PROBE_MIN_AGE_MS - age].filter((ms) => ms > 0);
    return Math.max(1, Math.min(this.opts.pollIntervalMs, ...dueIn));
  }

  private async dispatch(row: EventRow, id: number): Promise<void> {
    const event = parseEventRow(row);
    if (isBadEvent(event)) {
      this.deps.logger.warn(`Skipping event ${id}: ${event.detail}`, { event_id: id, reason: event.bad, event_type: row.event_type });
      this.deps.metrics.badEvents.inc({ reason: event.bad });
      this.advance(id);
      return;
    }
    this.deps.router.deliver(event);
    // Recovery reads the position synchronously: it must cover exactly what was delivered.
    this.advance(id);
    await this.deps.router.afterDelivery(event);
  }

  private advance(id: number): void {
    this.cursor = id;
    this.gaps.resolvedUpTo(id);
    this.unmarked.push(id);
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

  private async watchLateCommits(): Promise<void> {
    const ranges = this.late.active(this.clock());
    if (ranges.length === 0) return;
    for (const row of await this.deps.repo.readRanges(ranges)) {
      const id = Number(row.id);
      this.late.found(id);
      this.deps.logger.warn(`Event ${id} (${row.event_type}) committed after its id was given up; live clients did not get it, a reconnect with since= recovers it`, {
        event_id: id,
        gap_grace_ms: this.opts.gapGraceMs,
      });
      this.deps.metrics.badEvents.inc({ reason: 'late_commit' });
      this.unmarked.push(id);
    }
  }

  private succeeded(): void {
    this.lastSuccessMs = this.clock();
    this.failures = 0;
    this.deps.metrics.pollLagSeconds.set(0);
    if (!this.reachable) {
      this.reachable = true;
      this.deps.logger.info('The events table answers again; delivering the events committed meanwhile', { after_event_id: this.cursor });
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
        after_event_id: this.cursor,
      });
    }
    const base = Math.max(this.opts.pollIntervalMs, 100);
    return Math.min(MAX_BACKOFF_MS, base * 2 ** Math.min(this.failures - 1, 10));
  }
}
