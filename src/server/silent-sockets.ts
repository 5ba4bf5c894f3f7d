import type { Socket } from 'node:net';

/** How often the silent connections are looked at (ms). */
const SWEEP_MS = 250;

/**
 * Accepted connections that have not sent a byte after Node's handshake limit, given `graceMs`
 * more: one that sends its first byte leaves (Node times its request from that byte), one still
 * silent at the end of its grace is handed to `expired`. Nothing runs while none is silent.
 */
export class SilentSockets {
  private readonly deadlines = new Map<Socket, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    public graceMs: number,
    private readonly expired: (socket: Socket) => void,
  ) {}

  get size(): number {
    return this.deadlines.size;
  }

  /** Watches `socket` for its grace; false when there is none (the caller drops it now). */
  watch(socket: Socket): boolean {
    if (this.graceMs <= 0 || socket.destroyed) return false;
    this.deadlines.set(socket, Date.now() + this.graceMs);
    this.timer ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
    return true;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.deadlines.clear();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [socket, deadline] of this.deadlines) {
      if (socket.destroyed || socket.bytesRead > 0) this.deadlines.delete(socket);
      else if (now >= deadline) {
        this.deadlines.delete(socket);
        this.expired(socket);
      }
    }
    if (this.deadlines.size === 0) this.stop();
  }
}
