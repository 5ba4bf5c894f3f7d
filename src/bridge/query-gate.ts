/**
 * At most `limit` tasks at once, the others wait their turn in order. Replays go through one, so
 * a burst of reconnects queues here, without a timeout, instead of taking every connection of
 * the database pool (where authentication, the poller and the teardowns would time out).
 */
export class QueryGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
