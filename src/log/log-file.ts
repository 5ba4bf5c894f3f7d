import { closeSync, fstatSync, openSync, statSync, write } from 'node:fs';
import { Writable } from 'node:stream';

export type ReopenReason = 'signal' | 'moved';

export interface LogFileOptions {
  /** How often the path is compared with the open file (ms); 0 checks only on reopen(). */
  checkIntervalMs: number;
  /** Called after the file was reopened, with why, so the event lands in the new file. */
  onReopen?: (reason: ReopenReason) => void;
}

/**
 * The log file, opened for appending and reopened when it is rotated: on reopen() (SIGHUP from
 * logrotate's postrotate) and when a periodic check finds the path gone or pointing at another
 * file (renamed, then recreated). A truncated file needs no reopening: O_APPEND makes the next
 * write land at its new end, without a hole of NUL bytes.
 */
export class LogFile extends Writable {
  private fd: number;
  private writing = false;
  private reopenWanted: ReopenReason | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    readonly file: string,
    private readonly options: LogFileOptions,
  ) {
    super({ decodeStrings: true });
    this.fd = openSync(file, 'a');
    if (options.checkIntervalMs > 0) {
      this.timer = setInterval(() => this.check(), options.checkIntervalMs);
      this.timer.unref();
    }
  }

  /** Reopens the path now, or right after the write under way. */
  reopen(reason: ReopenReason = 'signal'): void {
    this.reopenWanted = reason;
    if (!this.writing) this.reopenNow();
  }

  private check(): void {
    if (this.reopenWanted || this.fd < 0) return;
    let current: { ino: number; dev: number };
    try {
      current = statSync(this.file);
    } catch {
      return this.reopen('moved');
    }
    const open = fstatSync(this.fd);
    if (current.ino !== open.ino || current.dev !== open.dev) this.reopen('moved');
  }

  private reopenNow(): void {
    const reason = this.reopenWanted;
    this.reopenWanted = undefined;
    if (!reason || this.fd < 0) return;
    let fd: number;
    try {
      fd = openSync(this.file, 'a');
    } catch {
      // The folder is gone or no longer writable: keep the old file rather than lose lines.
      return;
    }
    closeSync(this.fd);
    this.fd = fd;
    this.options.onReopen?.(reason);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.writing = true;
    write(this.fd, chunk, (err) => {
      this.writing = false;
      if (this.reopenWanted) this.reopenNow();
      done(err);
    });
  }

  override _final(done: (err?: Error | null) => void): void {
    if (this.timer) clearInterval(this.timer);
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    done();
  }
}
