/**
 * Collects what many callers ask for within a few milliseconds and runs it as one statement: a
 * connect storm makes hundreds of identical small reads and writes, and one multi-row statement
 * costs the database about what a single-row one does. While a batch runs, newcomers wait for
 * it and go together into the next one, so batches grow with the load by themselves. Each
 * caller's promise settles with its batch (its own result, or the batch's error).
 */
export class StatementBatch<In, Out> {
  private pending: Array<{ input: In; resolve(out: Out): void; reject(err: unknown): void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private running = 0;

  constructor(
    /** Runs one batch; returns one result per input, in order. */
    private readonly run: (inputs: In[]) => Promise<Out[]>,
    private readonly windowMs: number,
    private readonly maxSize: number,
  ) {}

  add(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (this.pending.length >= this.maxSize) this.flush();
      else if (this.running === 0) this.timer ??= setTimeout(() => this.flush(), this.windowMs);
    });
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
        if (this.running === 0 && this.pending.length > 0) this.flush();
      })
      .catch(() => undefined);
  }
}
