/**
 * Keeps outgoing requests under the server's rate limit (10 per second by default) so that
 * resubscribing many folders after a reconnect is not answered with rate_limited: what exceeds
 * the limit waits for the window to move, in order.
 */
export class SendPacer {
  private readonly sentAt: number[] = [];
  private readonly queue: string[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly write: (data: string) => void,
    private readonly now: () => number = () => Date.now(),
  ) {}

  send(data: string): void {
    this.queue.push(data);
    this.flush();
  }

  /** Drops what is still waiting (the socket is gone). */
  clear(): void {
    this.queue.length = 0;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private flush(): void {
    const t = this.now();
    while (this.sentAt.length > 0 && t - this.sentAt[0] >= this.windowMs) this.sentAt.shift();
    while (this.queue.length > 0 && this.sentAt.length < this.limit) {
      this.sentAt.push(t);
      this.write(this.queue.shift()!);
    }
    if (this.queue.length > 0 && this.timer === null) {
      const wait = Math.max(1, this.windowMs - (t - this.sentAt[0]));
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, wait);
    }
  }
}
