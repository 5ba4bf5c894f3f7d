import type { Database } from '../db/index.js';
import { AccessReadBatch } from './access-read-batch.js';
import { computeFolderAccess, type FolderAccess } from './folder-access.js';
import type { MiscSettings } from './misc-settings.js';

/**
 * Folder access per connected user. A verdict is computed once for all of a user's connections
 * and recomputed on demand (folder_permission_changed, role or group changes) and when older than
 * access_refresh_sec.
 */
export class AccessCache {
  private readonly entries = new Map<number, FolderAccess>();
  /** Bumped per user on each recompute, so a slow older computation never overwrites a newer one. */
  private readonly generation = new Map<number, number>();
  private readonly inflight = new Map<number, Promise<FolderAccess>>();
  /** Users computed at about the same time share their queries. */
  private readonly reads: AccessReadBatch;

  constructor(
    private readonly db: Database,
    private readonly settings: MiscSettings,
    private readonly refreshMs: number,
  ) {
    this.reads = new AccessReadBatch(db);
  }

  peek(userId: number): FolderAccess | undefined {
    return this.entries.get(userId);
  }

  /** The cached verdict, computed when missing or older than access_refresh_sec. */
  async get(userId: number): Promise<FolderAccess> {
    const cached = this.entries.get(userId);
    if (cached && Date.now() - cached.computedAtMs < this.refreshMs) return cached;
    return this.inflight.get(userId) ?? this.recompute(userId);
  }

  /** Always reads the database again; concurrent callers share the newest computation. */
  recompute(userId: number): Promise<FolderAccess> {
    const gen = (this.generation.get(userId) ?? 0) + 1;
    this.generation.set(userId, gen);
    const run = computeFolderAccess(this.db, this.settings, userId, this.reads).then(
      (access) => {
        if (this.generation.get(userId) === gen) {
          this.entries.set(userId, access);
          this.inflight.delete(userId);
        }
        return this.entries.get(userId) ?? access;
      },
      (err: unknown) => {
        if (this.generation.get(userId) === gen) this.inflight.delete(userId);
        throw err;
      },
    );
    this.inflight.set(userId, run);
    return run;
  }

  isStale(userId: number): boolean {
    const cached = this.entries.get(userId);
    return !cached || Date.now() - cached.computedAtMs >= this.refreshMs;
  }

  /** Drops the verdicts of users no longer connected. */
  retainOnly(userIds: ReadonlySet<number>): void {
    for (const userId of [...this.entries.keys()]) if (!userIds.has(userId) && !this.inflight.has(userId)) this.forget(userId);
  }

  forget(userId: number): void {
    this.entries.delete(userId);
    this.inflight.delete(userId);
    this.generation.delete(userId);
  }
}
