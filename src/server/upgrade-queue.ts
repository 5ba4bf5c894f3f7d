import { performance } from 'node:perf_hooks';

/** Upgrades completed per turn of the event loop before it goes back to accepting and reading (ms). */
export const UPGRADE_SLICE_MS = 10;

/**
 * The upgrades the daemon completes (the 101 written, the client's link set up), in arrival
 * order, a slice of at most `sliceMs` per turn of the event loop. When thousands of clients
 * reconnect at once their requests arrive in a few turns; completed all at once, they held the
 * loop for seconds, while the kernel's accept queue filled and dropped new connections (SYN
 * retries, resets) and the connections already accepted waited unread into the handshake limit.
 * Between slices the loop accepts, reads and delivers; a queued upgrade already has its whole
 * request, so waiting here costs the client nothing but the wait.
 */
export class UpgradeQueue {
  private readonly tasks: Array<() => void> = [];
  private head = 0;
  private scheduled = false;
  /** Shared by every turn: runs the next slice. */
  private readonly drain = () => this.runSlice();

  constructor(
    /** A task that throws: its error, reported here (the queue goes on with the next). */
    private readonly failed: (err: unknown) => void,
    private readonly sliceMs = UPGRADE_SLICE_MS,
  ) {}

  get size(): number {
    return this.tasks.length - this.head;
  }

  /** Runs `task` after those queued before it, in this turn's slice or a later one. */
  add(task: () => void): void {
    this.tasks.push(task);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  /** Runs every queued task now (shutdown: each task decides what a stopping daemon does). */
  flush(): void {
    while (this.head < this.tasks.length) this.runOne();
    this.compact();
  }

  private runSlice(): void {
    this.scheduled = false;
    const until = performance.now() + this.sliceMs;
    while (this.head < this.tasks.length) {
      this.runOne();
      if (performance.now() >= until) break;
    }
    this.compact();
    if (this.head < this.tasks.length) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  private runOne(): void {
    const task = this.tasks[this.head]!;
    this.tasks[this.head] = noop;
    this.head += 1;
    try {
      task();
    } catch (err) {
      this.failed(err);
    }
  }

  /** Drops the tasks already run once the queue is empty or they make up most of it. */
  private compact(): void {
    if (this.head === this.tasks.length) {
      this.tasks.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.tasks.length) {
      this.tasks.splice(0, this.head);
      this.head = 0;
    }
  }
}

function noop(): void {}
