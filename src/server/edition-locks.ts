import { displayName } from '../auth/index.js';
import { EditionLocksRepository, SettingsRepository, StatementBatch, type Database, type NewEvent, type UserLocks } from '../db/index.js';
import type { LockedItem, LockedKb } from '../protocol/index.js';
import { FolderLockList } from './folder-lock-list.js';

/** TeamPass's EDITION_LOCK_HEARTBEAT_TIMEOUT: a lock not renewed for this long is stale (s). */
export const EDITION_LOCK_TIMEOUT_SEC = 300;

/** How long a folder's locked_items list is reused for the subscribes of a burst (ms). */
export const LOCK_LIST_REUSE_MS = 250;

/** Users whose last connection closes within this long (a storm) have their locks read together (ms). */
const LOCKS_OF_WINDOW_MS = 5;
const LOCKS_OF_MAX_USERS = 500;

const unixNow = () => Math.floor(Date.now() / 1000);

export interface LockOwner {
  userId: number;
  login: string;
  displayName: string;
}

/** TeamPass's edition locks (items_edition, kb_edition) as the daemon reads, renews and releases them. */
export class EditionLocks {
  private readonly locks: EditionLocksRepository;
  private readonly settings: SettingsRepository;
  private readonly folderLists: FolderLockList;
  private readonly locksOf: StatementBatch<number, UserLocks>;

  constructor(db: Database) {
    this.locks = new EditionLocksRepository(db);
    this.settings = new SettingsRepository(db);
    this.folderLists = new FolderLockList(this.locks, LOCK_LIST_REUSE_MS, EDITION_LOCK_TIMEOUT_SEC);
    this.locksOf = new StatementBatch(async (userIds) => {
      const byUser = await this.locks.locksOfUsers(userIds);
      return userIds.map((id) => byUser.get(id)!);
    }, LOCKS_OF_WINDOW_MS, LOCKS_OF_MAX_USERS);
  }

  /** The folder's live locks but the requester's own; possibly up to LOCK_LIST_REUSE_MS old (see FolderLockList). */
  lockedItems(folderId: number, requesterId: number): Promise<LockedItem[]> {
    return this.folderLists.lockedItems(folderId, requesterId);
  }

  async lockedKbs(requesterId: number): Promise<LockedKb[]> {
    const rows = await this.locks.kbLocks(requesterId, unixNow() - EDITION_LOCK_TIMEOUT_SEC);
    return rows.map((r) => ({ kb_id: r.id, user_login: r.login, user_display_name: displayName(r.name, r.lastname, r.login) }));
  }

  /** Refreshes the requester's own lock; false when they hold none on that item. */
  async renewItemLock(itemId: number, userId: number): Promise<boolean> {
    try {
      return await this.locks.renewItemLock(itemId, userId, unixNow());
    } finally {
      this.folderLists.invalidate();
    }
  }

  async renewKbLock(kbId: number, userId: number): Promise<boolean> {
    return this.locks.renewKbLock(kbId, userId, unixNow());
  }

  /** The folder an item is in now (items.id_tree), or null for an unknown item. */
  async itemFolder(itemId: number): Promise<number | null> {
    return this.locks.itemFolder(itemId);
  }

  async kbExists(kbId: number): Promise<boolean> {
    return this.locks.kbExists(kbId);
  }

  /**
   * What the PHP daemon does when a user's last connection closes: their edition locks go, and
   * the other users are told through item_edition_stopped / kb_edition_stopped events, written
   * as TeamPass's producer writes them (only while websocket_enabled = 1, server_timestamp added).
   */
  async releaseAll(owner: LockOwner): Promise<{ items: number; kbs: number }> {
    const { items, kbIds } = await this.locksOf.add(owner.userId);
    if (items.length === 0 && kbIds.length === 0) return { items: 0, kbs: 0 };

    const enabled = await this.settings.read('websocket_enabled');
    const who = { user_id: owner.userId, user_login: owner.login, user_display_name: owner.displayName };
    const events: NewEvent[] = [];
    if (String(enabled ?? '').trim() === '1') {
      const server_timestamp = unixNow();
      for (const [item_id, folder_id] of dedupe(items.map((r) => [r.itemId, r.folderId] as const))) {
        events.push({
          eventType: 'item_edition_stopped',
          targetType: 'folder',
          targetId: folder_id,
          payload: JSON.stringify({ item_id, folder_id, ...who, reason: 'disconnected', server_timestamp }),
        });
      }
      for (const kb_id of new Set(kbIds)) {
        events.push({ eventType: 'kb_edition_stopped', targetType: 'kb', targetId: null, payload: JSON.stringify({ kb_id, ...who, reason: 'disconnected', server_timestamp }) });
      }
    }
    try {
      await this.locks.releaseAll(owner.userId, events);
    } finally {
      this.folderLists.invalidate();
    }
    return { items: items.length, kbs: kbIds.length };
  }
}

function dedupe(pairs: ReadonlyArray<readonly [number, number]>): Array<readonly [number, number]> {
  const seen = new Map<number, readonly [number, number]>();
  for (const pair of pairs) seen.set(pair[0], pair);
  return [...seen.values()];
}
