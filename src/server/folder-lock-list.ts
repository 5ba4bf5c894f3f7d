import { displayName } from '../auth/index.js';
import type { EditionLocksRepository } from '../db/index.js';
import type { LockedItem } from '../protocol/index.js';

export interface HeldLock extends LockedItem {
  userId: number;
}

/**
 * The locked items of a folder, read once per burst of subscribes instead of once per subscriber:
 * a folder's list is reused for `reuseMs` after its read began, and each requester gets it without
 * their own locks. Allowed staleness: a lock taken or released less than `reuseMs` before a
 * subscribe may be missing from (or still in) its reply; the item_edition_started / _stopped events
 * tell the client about it anyway. A change older than `reuseMs` is always seen, and a change this
 * daemon makes itself (renew, release) drops the reused lists at once.
 */
export class FolderLockList {
  private readonly lists = new Map<number, { startedAtMs: number; rows: Promise<HeldLock[]> }>();

  constructor(
    private readonly repo: EditionLocksRepository,
    private readonly reuseMs: number,
    private readonly timeoutSec: number,
  ) {}

  async lockedItems(folderId: number, requesterId: number): Promise<LockedItem[]> {
    const rows = await this.folderLocks(folderId);
    return rows.filter((r) => r.userId !== requesterId).map(({ item_id, user_login, user_display_name }) => ({ item_id, user_login, user_display_name }));
  }

  /** Forgets every reused list: the next subscribe reads again. */
  invalidate(): void {
    this.lists.clear();
  }

  private folderLocks(folderId: number): Promise<HeldLock[]> {
    const nowMs = Date.now();
    const reused = this.lists.get(folderId);
    if (reused && nowMs - reused.startedAtMs < this.reuseMs) return reused.rows;
    if (this.lists.size > 256) this.dropOld(nowMs);
    const rows = this.repo.itemLocks(folderId, Math.floor(nowMs / 1000) - this.timeoutSec).then((found) =>
      found.map((r) => ({ item_id: r.id, userId: r.userId, user_login: r.login, user_display_name: displayName(r.name, r.lastname, r.login) })),
    );
    const entry = { startedAtMs: nowMs, rows };
    this.lists.set(folderId, entry);
    // A failed read is not reused: the next subscribe tries again.
    rows.catch(() => {
      if (this.lists.get(folderId) === entry) this.lists.delete(folderId);
    });
    return rows;
  }

  private dropOld(nowMs: number): void {
    for (const [folderId, entry] of this.lists) if (nowMs - entry.startedAtMs >= this.reuseMs) this.lists.delete(folderId);
  }
}
