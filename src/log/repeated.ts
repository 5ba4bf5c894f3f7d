import type { Logger } from './logger.js';

const WINDOW_MS = 60_000;

/**
 * One error line per kind of failure and minute: the first is logged with its details, the
 * repeats in the same minute are counted and summed up in one line when the minute is over, so a
 * burst of clients failing the same way does not flood the log.
 */
export class RepeatedFailureLog {
  private windowEndsMs = 0;
  private repeats = 0;
  private lastMeta: Record<string, unknown> = {};
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly message: string,
    private readonly windowMs = WINDOW_MS,
  ) {}

  failed(meta: Record<string, unknown>, nowMs = Date.now()): void {
    if (nowMs >= this.windowEndsMs) {
      this.windowEndsMs = nowMs + this.windowMs;
      this.logger.error(this.message, meta);
      return;
    }
    this.repeats += 1;
    this.lastMeta = meta;
    this.timer ??= setTimeout(() => this.summarise(), this.windowEndsMs - nowMs).unref();
  }

  private summarise(): void {
    this.timer = undefined;
    if (this.repeats === 0) return;
    this.logger.error(`${this.message} (${this.repeats} more times within ${Math.round(this.windowMs / 1000)} s; the last one below)`, { ...this.lastMeta, repeats: this.repeats });
    this.repeats = 0;
  }
}
