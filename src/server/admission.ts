import { readFileSync } from 'node:fs';

/** Descriptors kept back from client sockets: database pool, log files, the listener, the wake-up port. */
export const FD_RESERVE = 64;
/** How often the "open-file limit reached" warning is repeated while it lasts (ms). */
const FD_WARNING_EVERY_MS = 60_000;

export type RefusalReason = 'pending_global' | 'pending_ip' | 'fd_limit';

export interface AdmissionLimits {
  /** Upgraded sockets still waiting for a credential, all addresses together. */
  maxPending: number;
  /** The same, per client address (per /64 for IPv6). */
  maxPendingPerAddress: number;
  /** The process's open-file limit (soft), or null where it cannot be read. */
  fileLimit: number | null;
}

export interface AdmissionEvents {
  refused(reason: RefusalReason): void;
  /** Called at most once a minute while sockets are dropped for the open-file limit. */
  fdLimitReached(open: number, budget: number): void;
}

/**
 * Who may still come in. Every TCP socket counts against the open-file budget (the limit minus a
 * reserve), and a socket past it is dropped at once instead of failing deep inside accept.
 * Upgraded sockets that have not sent a credential yet are capped globally and per address, at
 * most half the budget, so tokenless sockets can never take the room authenticated users need.
 */
export class Admission {
  private sockets = 0;
  private pending = 0;
  private readonly pendingByAddress = new Map<string, number>();
  private lastFdWarningMs = 0;
  readonly fdBudget: number | null;
  private readonly maxPending: number;

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly events: AdmissionEvents,
  ) {
    this.fdBudget = limits.fileLimit === null ? null : Math.max(1, limits.fileLimit - FD_RESERVE);
    this.maxPending = this.fdBudget === null ? limits.maxPending : Math.min(limits.maxPending, Math.floor(this.fdBudget / 2));
  }

  get openSockets(): number {
    return this.sockets;
  }

  get pendingSockets(): number {
    return this.pending;
  }

  /** A TCP connection was accepted; false when it must be dropped (the open-file budget is spent). */
  socketOpened(nowMs = Date.now()): boolean {
    if (this.fdBudget !== null && this.sockets >= this.fdBudget) {
      this.events.refused('fd_limit');
      if (nowMs - this.lastFdWarningMs >= FD_WARNING_EVERY_MS) {
        this.lastFdWarningMs = nowMs;
        this.events.fdLimitReached(this.sockets, this.fdBudget);
      }
      return false;
    }
    this.sockets += 1;
    return true;
  }

  socketClosed(): void {
    this.sockets = Math.max(0, this.sockets - 1);
  }

  /** An upgrade without a credential: null when admitted (call `pendingEnded` later), else why not. */
  admitPending(addressKey: string): RefusalReason | null {
    const forAddress = this.pendingByAddress.get(addressKey) ?? 0;
    const reason = this.pending >= this.maxPending ? 'pending_global' : forAddress >= this.limits.maxPendingPerAddress ? 'pending_ip' : null;
    if (reason) {
      this.events.refused(reason);
      return reason;
    }
    this.pending += 1;
    this.pendingByAddress.set(addressKey, forAddress + 1);
    return null;
  }

  pendingEnded(addressKey: string): void {
    const forAddress = this.pendingByAddress.get(addressKey);
    if (forAddress === undefined) return;
    this.pending = Math.max(0, this.pending - 1);
    if (forAddress <= 1) this.pendingByAddress.delete(addressKey);
    else this.pendingByAddress.set(addressKey, forAddress - 1);
  }
}

/** The soft open-file limit from /proc/self/limits (Linux); null elsewhere or when unlimited. */
export function readFileLimit(limitsFile = '/proc/self/limits'): number | null {
  try {
    const line = readFileSync(limitsFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    const value = Number(soft);
    return Number.isInteger(value) && value > 0 ? value : null;
  } catch {
    return null;
  }
}
