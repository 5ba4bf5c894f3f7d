import { displayName } from '../auth/index.js';
import { StatementBatch, type EditionLocksRepository } from '../db/index.js';
import type { LockedItem } from '../protocol/index.js';

export interface HeldLock extends LockedItem {
  userId: number;
}

/** Folder lists asked for within this long are read together, in one statement. */
const BATCH_WINDOW_MS = 3;
const BATCH_MAX_FOLDERS = 500;

/**
 * The locked items of a folder, read once per burst of subscribes instead of once per subscriber:
 * a folder's list is reused for `reuseMs` after its read began, and each requester gets it without
 * their own locks. The lists of the folders a burst asks for are read in one statement. Allowed staleness: a lock taken or released less than `reuseMs` before a
 * subscribe may be missing from (or still in) its reply; the item_edition_started / _stopped events
 * tell the client about it anyway. A change older than `reuseMs` is always seen, and a change this
 * daemon makes itself (renew, release) drops the reused lists at once.
 */
export class FolderLockList {
  private readonly lists = new Map<number, { startedAtMs: number; rows: Promise<HeldLock[]> }>();
  private readonly reads: StatementBatch<number, HeldLock[]>;

  constructor(
    private readonly repo: EditionLocksRepository,
    private readonly reuseMs: number,
    private readonly timeoutSec: number,
  ) {
    this.reads = new StatementBatch((folderIds) => this.readLists(folderIds), BATCH_WINDOW_MS, BATCH_MAX_FOLDERS);
  }

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
    const rows = this.reads.add(folderId);
    const entry = { startedAtMs: nowMs, rows };
    this.lists.set(folderId, entry);
    // A failed read is not reused: the next subscribe tries again.
    rows.catch(() => {
      if (this.lists.get(folderId) === entry) this.lists.delete(folderId);
    });
    return rows;
  }

  /** One statement for the folders of a batch (each asked for once: a reused list is not read again). */
  private async readLists(folderIds: number[]): Promise<HeldLock[][]> {
    const found = await this.repo.itemLocks([...new Set(folderIds)], Math.floor(Date.now() / 1000) - this.timeoutSec);
    const byFolder = new Map<number, HeldLock[]>();
    for (const r of found) {
      const list = byFolder.get(r.folderId) ?? [];
      list.push({ item_id: r.id, userId: r.userId, user_login: r.login, user_display_name: displayName(r.name, r.lastname, r.login) });
      byFolder.set(r.folderId, list);
    }
    return folderIds.map((f) => byFolder.get(f) ?? []);
  }

  private dropOld(nowMs: number): void {
    for (const [folderId, entry] of this.lists) if (nowMs - entry.startedAtMs >= this.reuseMs) this.lists.delete(folderId);
  }
}
