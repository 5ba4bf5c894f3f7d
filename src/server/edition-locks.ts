import { displayName } from '../auth/index.js';
import { SettingsRepository, type Database } from '../db/index.js';
import type { LockedItem, LockedKb } from '../protocol/index.js';

/** TeamPass's EDITION_LOCK_HEARTBEAT_TIMEOUT: a lock not renewed for this long is stale (s). */
export const EDITION_LOCK_TIMEOUT_SEC = 300;

const unixNow = () => Math.floor(Date.now() / 1000);

/** items_edition.timestamp is unix time as text: compared as a number on both engines. */
function timestampAsInt(db: Database, column: string): string {
  return db.client === 'mysql' ? `CAST(${column} AS SIGNED)` : `CAST(${column} AS INTEGER)`;
}

export interface LockOwner {
  userId: number;
  login: string;
  displayName: string;
}

/** TeamPass's edition locks (items_edition, kb_edition) as the daemon reads, renews and releases them. */
export class EditionLocks {
  private kbHasDeletedAt: Promise<boolean> | undefined;

  constructor(private readonly db: Database) {}

  async lockedItems(folderId: number, requesterId: number): Promise<LockedItem[]> {
    const { knex, t } = this.db;
    const rows = (await knex(`${t.itemsEdition} as ie`)
      .join(`${t.items} as i`, 'ie.item_id', 'i.id')
      .join(`${t.users} as u`, 'ie.user_id', 'u.id')
      .select('ie.item_id', 'u.login', 'u.name', 'u.lastname')
      .where('i.id_tree', folderId)
      .whereNot('ie.user_id', requesterId)
      .where(knex.raw(`${timestampAsInt(this.db, 'ie.timestamp')} >= ?`, [unixNow() - EDITION_LOCK_TIMEOUT_SEC]))
      .orderBy('ie.item_id')) as Array<{ item_id: number; login: string; name: string | null; lastname: string | null }>;
    return rows.map((r) => ({ item_id: Number(r.item_id), user_login: r.login, user_display_name: displayName(r.name, r.lastname, r.login) }));
  }

  async lockedKbs(requesterId: number): Promise<LockedKb[]> {
    const { knex, t } = this.db;
    let query = knex(`${t.kbEdition} as ke`)
      .join(`${t.kb} as k`, 'ke.kb_id', 'k.id')
      .join(`${t.users} as u`, 'ke.user_id', 'u.id')
      .select('ke.kb_id', 'u.login', 'u.name', 'u.lastname')
      .whereNot('ke.user_id', requesterId)
      .where(knex.raw(`${timestampAsInt(this.db, 'ke.timestamp')} >= ?`, [unixNow() - EDITION_LOCK_TIMEOUT_SEC]))
      .orderBy('ke.kb_id');
    if (await this.kbDeletedAtColumn()) query = query.whereNull('k.deleted_at');
    const rows = (await query) as Array<{ kb_id: number; login: string; name: string | null; lastname: string | null }>;
    return rows.map((r) => ({ kb_id: Number(r.kb_id), user_login: r.login, user_display_name: displayName(r.name, r.lastname, r.login) }));
  }

  /** Refreshes the requester's own lock; false when they hold none on that item. */
  async renewItemLock(itemId: number, userId: number): Promise<boolean> {
    return (await this.db.knex(this.db.t.itemsEdition).where({ item_id: itemId, user_id: userId }).update({ timestamp: String(unixNow()) })) > 0;
  }

  async renewKbLock(kbId: number, userId: number): Promise<boolean> {
    return (await this.db.knex(this.db.t.kbEdition).where({ kb_id: kbId, user_id: userId }).update({ timestamp: String(unixNow()) })) > 0;
  }

  /** The folder an item is in now (items.id_tree), or null for an unknown item. */
  async itemFolder(itemId: number): Promise<number | null> {
    const row = (await this.db.knex(this.db.t.items).select('id_tree').where({ id: itemId }).first()) as { id_tree: number } | undefined;
    return row ? Number(row.id_tree) : null;
  }

  async kbExists(kbId: number): Promise<boolean> {
    let query = this.db.knex(this.db.t.kb).select('id').where({ id: kbId });
    if (await this.kbDeletedAtColumn()) query = query.whereNull('deleted_at');
    return (await query.first()) !== undefined;
  }

  /**
   * What the PHP daemon does when a user's last connection closes: their edition locks go, and
   * the other users are told through item_edition_stopped / kb_edition_stopped events, written
   * as TeamPass's producer writes them (only while websocket_enabled = 1, server_timestamp added).
   */
  async releaseAll(owner: LockOwner): Promise<{ items: number; kbs: number }> {
    const { knex, t } = this.db;
    const items = (await knex(`${t.itemsEdition} as ie`)
      .join(`${t.items} as i`, 'ie.item_id', 'i.id')
      .select('ie.item_id', 'i.id_tree')
      .where('ie.user_id', owner.userId)) as Array<{ item_id: number; id_tree: number }>;
    const kbs = (await knex(t.kbEdition).select('kb_id').where({ user_id: owner.userId })) as Array<{ kb_id: number }>;
    if (items.length === 0 && kbs.length === 0) return { items: 0, kbs: 0 };

    const enabled = await new SettingsRepository(this.db).read('websocket_enabled');
    const who = { user_id: owner.userId, user_login: owner.login, user_display_name: owner.displayName };
    await knex.transaction(async (trx) => {
      await trx(t.itemsEdition).where({ user_id: owner.userId }).delete();
      await trx(t.kbEdition).where({ user_id: owner.userId }).delete();
      if (String(enabled ?? '').trim() !== '1') return;
      const server_timestamp = unixNow();
      const rows = [
        ...dedupe(items.map((r) => [Number(r.item_id), Number(r.id_tree)] as const)).map(([item_id, folder_id]) => ({
          event_type: 'item_edition_stopped',
          target_type: 'folder',
          target_id: folder_id,
          payload: JSON.stringify({ item_id, folder_id, ...who, reason: 'disconnected', server_timestamp }),
        })),
        ...[...new Set(kbs.map((r) => Number(r.kb_id)))].map((kb_id) => ({
          event_type: 'kb_edition_stopped',
          target_type: 'kb',
          target_id: null,
          payload: JSON.stringify({ kb_id, ...who, reason: 'disconnected', server_timestamp }),
        })),
      ];
      if (rows.length > 0) await trx(t.events).insert(rows);
    });
    return { items: items.length, kbs: kbs.length };
  }

  private kbDeletedAtColumn(): Promise<boolean> {
    this.kbHasDeletedAt ??= this.db.knex.schema.hasColumn(this.db.t.kb, 'deleted_at');
    return this.kbHasDeletedAt;
  }
}

function dedupe(pairs: ReadonlyArray<readonly [number, number]>): Array<readonly [number, number]> {
  const seen = new Map<number, readonly [number, number]>();
  for (const pair of pairs) seen.set(pair[0], pair);
  return [...seen.values()];
}
