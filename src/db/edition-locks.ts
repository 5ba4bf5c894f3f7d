import type { Knex } from 'knex';
import type { NewEvent } from './events.js';
import type { Database } from './knex.js';
import type { EditionLockRow } from './rows.js';
import { insertedId, toNullableText } from './values.js';

/** items_edition.timestamp is unix time as text: compared as a number on both engines. */
function timestampAsInt(db: Database, column: string): string {
  return db.client === 'mysql' ? `CAST(${column} AS SIGNED)` : `CAST(${column} AS INTEGER)`;
}

const toLockRow = (r: Record<string, unknown>, idColumn: string): EditionLockRow => ({
  id: Number(r[idColumn]),
  login: String(r.login ?? ''),
  name: toNullableText(r.name),
  lastname: toNullableText(r.lastname),
});

/** The edition locks one user holds: items with the folder each is in, and KB entries. */
export interface UserLocks {
  items: Array<{ itemId: number; folderId: number }>;
  kbIds: number[];
}

/** TeamPass's items and knowledge base entries, and their edition locks (items_edition, kb_edition). */
export class EditionLocksRepository {
  private kbHasDeletedAt: Promise<boolean> | undefined;

  constructor(private readonly db: Database) {}

  /**
   * Locks on items of the given folders renewed at or after `sinceUnix`, everyone's, by folder
   * then item id, each with its holder's id and the item's folder.
   */
  async itemLocks(folderIds: readonly number[], sinceUnix: number): Promise<Array<EditionLockRow & { userId: number; folderId: number }>> {
    if (folderIds.length === 0) return [];
    const { knex, t } = this.db;
    const rows: Array<Record<string, unknown>> = await knex(`${t.itemsEdition} as ie`)
      .join(`${t.items} as i`, 'ie.item_id', 'i.id')
      .join(`${t.users} as u`, 'ie.user_id', 'u.id')
      .select('ie.item_id', 'ie.user_id', 'i.id_tree', 'u.login', 'u.name', 'u.lastname')
      .whereIn('i.id_tree', folderIds)
      .where(knex.raw(`${timestampAsInt(this.db, 'ie.timestamp')} >= ?`, [sinceUnix]))
      .orderBy(['i.id_tree', 'ie.item_id']);
    return rows.map((r) => ({ ...toLockRow(r, 'item_id'), userId: Number(r.user_id), folderId: Number(r.id_tree) }));
  }

  /** Locks on live KB entries renewed at or after `sinceUnix`, except `exceptUserId`'s, by kb id. */
  async kbLocks(exceptUserId: number, sinceUnix: number): Promise<EditionLockRow[]> {
    const { knex, t } = this.db;
    let query = knex(`${t.kbEdition} as ke`)
      .join(`${t.kb} as k`, 'ke.kb_id', 'k.id')
      .join(`${t.users} as u`, 'ke.user_id', 'u.id')
      .select('ke.kb_id', 'u.login', 'u.name', 'u.lastname')
      .whereNot('ke.user_id', exceptUserId)
      .where(knex.raw(`${timestampAsInt(this.db, 'ke.timestamp')} >= ?`, [sinceUnix]))
      .orderBy('ke.kb_id');
    if (await this.kbDeletedAtColumn()) query = query.whereNull('k.deleted_at');
    const rows: Array<Record<string, unknown>> = await query;
    return rows.map((r) => toLockRow(r, 'kb_id'));
  }

  /** Sets the timestamp of the user's lock on the item; false when they hold none. */
  async renewItemLock(itemId: number, userId: number, nowUnix: number): Promise<boolean> {
    return (await this.db.knex(this.db.t.itemsEdition).where({ item_id: itemId, user_id: userId }).update({ timestamp: String(nowUnix) })) > 0;
  }

  async renewKbLock(kbId: number, userId: number, nowUnix: number): Promise<boolean> {
    return (await this.db.knex(this.db.t.kbEdition).where({ kb_id: kbId, user_id: userId }).update({ timestamp: String(nowUnix) })) > 0;
  }

  /** Each user's locks, in two statements for all of them: items with the folder each is in, and KB entries. */
  async locksOfUsers(userIds: readonly number[]): Promise<Map<number, UserLocks>> {
    const locks = new Map<number, UserLocks>(userIds.map((id) => [id, { items: [], kbIds: [] }]));
    if (locks.size === 0) return locks;
    const { knex, t } = this.db;
    const ids = [...locks.keys()];
    const items: Array<{ item_id: unknown; user_id: unknown; id_tree: unknown }> = await knex(`${t.itemsEdition} as ie`)
      .join(`${t.items} as i`, 'ie.item_id', 'i.id')
      .select('ie.item_id', 'ie.user_id', 'i.id_tree')
      .whereIn('ie.user_id', ids);
    const kbs: Array<{ kb_id: unknown; user_id: unknown }> = await knex(t.kbEdition).select('kb_id', 'user_id').whereIn('user_id', ids);
    for (const r of items) locks.get(Number(r.user_id))?.items.push({ itemId: Number(r.item_id), folderId: Number(r.id_tree) });
    for (const r of kbs) locks.get(Number(r.user_id))?.kbIds.push(Number(r.kb_id));
    return locks;
  }

  /** Deletes every lock of the user and writes `events` in the same transaction. */
  async releaseAll(userId: number, events: readonly NewEvent[]): Promise<void> {
    const { knex, t } = this.db;
    await knex.transaction(async (trx: Knex.Transaction) => {
      await trx(t.itemsEdition).where({ user_id: userId }).delete();
      await trx(t.kbEdition).where({ user_id: userId }).delete();
      if (events.length === 0) return;
      await trx(t.events).insert(events.map((e) => ({ event_type: e.eventType, target_type: e.targetType, target_id: e.targetId, payload: e.payload })));
    });
  }

  /** The folder an item is in now (items.id_tree), or null for an unknown item. */
  async itemFolder(itemId: number): Promise<number | null> {
    const row: { id_tree: unknown } | undefined = await this.db.knex(this.db.t.items).select('id_tree').where({ id: itemId }).first();
    return row ? Number(row.id_tree) : null;
  }

  /** Whether the KB entry exists and is not deleted. */
  async kbExists(kbId: number): Promise<boolean> {
    let query = this.db.knex(this.db.t.kb).select('id').where({ id: kbId });
    if (await this.kbDeletedAtColumn()) query = query.whereNull('deleted_at');
    return (await query.first()) !== undefined;
  }

  /** A new item in the folder; its id. */
  async createItem(label: string, folderId: number): Promise<number> {
    return insertedId(await this.db.knex(this.db.t.items).insert({ label, id_tree: folderId }));
  }

  /** The folder's newest item. */
  async newestItem(folderId: number): Promise<{ id: number; label: string } | undefined> {
    const row: { id: unknown; label: unknown } | undefined = await this.db.knex(this.db.t.items).where({ id_tree: folderId }).orderBy('id', 'desc').first('id', 'label');
    return row ? { id: Number(row.id), label: String(row.label ?? '') } : undefined;
  }

  async renameItem(itemId: number, label: string): Promise<void> {
    await this.db.knex(this.db.t.items).where({ id: itemId }).update({ label });
  }

  async deleteItem(itemId: number): Promise<void> {
    await this.db.knex(this.db.t.items).where({ id: itemId }).delete();
  }

  private kbDeletedAtColumn(): Promise<boolean> {
    this.kbHasDeletedAt ??= this.db.knex.schema.hasColumn(this.db.t.kb, 'deleted_at');
    return this.kbHasDeletedAt;
  }
}
