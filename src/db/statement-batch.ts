/**
 * Collects what many callers ask for within a few milliseconds and runs it as one statement: a
 * connect storm makes hundreds of identical small reads and writes, and one multi-row statement
 * costs the database about what a single-row one does. While a batch runs, newcomers wait for
 * it (and at least their window) and go together into the next one, so batches grow with the
 * load by themselves. Each caller's promise settles with its batch (its own result, or the
 * batch's error).
 *
 * The wait adapts to the arrivals: a caller that comes within BURST_GAP_MS of the previous one
 * is part of a burst, and its batch waits BURST_WINDOW_MS (a handshake in a storm gains a few
 * milliseconds and saves statements by the hundred); a lone caller waits only `windowMs`.
 */
/** Callers closer together than this are a burst. */
export const BURST_GAP_MS = 25;
/** How long a batch begun in a burst waits for more callers. */
export const BURST_WINDOW_MS = 20;

export class StatementBatch<In, Out> {
  private pending: Array<{ input: In; resolve(out: Out): void; reject(err: unknown): void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private running = 0;
  private lastAddMs = -Infinity;
  /** When the first caller of the batch being gathered may run at the latest. */
  private dueMs = 0;

  constructor(
    /** Runs one batch; returns one result per input, in order. */
    private readonly run: (inputs: In[]) => Promise<Out[]>,
    private readonly windowMs: number,
    private readonly maxSize: number,
  ) {}

  add(input: In): Promise<Out> {
    const nowMs = performance.now();
    const inBurst = nowMs - this.lastAddMs < BURST_GAP_MS;
    this.lastAddMs = nowMs;
    return new Promise<Out>((resolve, reject) => {
      if (this.pending.length === 0) this.dueMs = nowMs + (inBurst ? Math.max(this.windowMs, BURST_WINDOW_MS) : this.windowMs);
      this.pending.push({ input, resolve, reject });
      if (this.pending.length >= this.maxSize) this.flush();
      else if (this.running === 0) this.schedule();
    });
  }

  /** Runs the gathered batch when its first caller's wait is over (at once if it already is). */
  private schedule(): void {
    this.timer ??= setTimeout(() => this.flush(), Math.max(0, this.dueMs - performance.now()));
  }

  /** Runs what is queued now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending.splice(0, this.maxSize);
    if (batch.length === 0) return;
    this.running += 1;
    Promise.resolve()
      .then(() => this.run(batch.map((p) => p.input)))
      .then(
        (outs) => batch.forEach((p, i) => p.resolve(outs[i]!)),
        (err: unknown) => batch.forEach((p) => p.reject(err)),
      )
      .finally(() => {
        this.running -= 1;
        if (this.running === 0 && this.pending.length > 0) this.schedule();
      })
      .catch(() => undefined);
  }
}
