import type { Viewer } from '../protocol/index.js';
import type { Connection } from './connection.js';

export interface ItemTarget {
  folderId: number;
  itemId: number;
}

/**
 * Who is looking at what, per connection (one item and one KB article per browser tab, as in
 * the PHP daemon). Presence is per process: it lives and dies with the connections.
 */
export class Presence {
  private readonly itemViews = new Map<Connection, ItemTarget>();
  private readonly itemsByFolder = new Map<number, Map<Connection, number>>();
  private readonly kbViews = new Map<Connection, number>();

  /** Returns the items whose viewer list changed (the previous one of this tab, and the new one). */
  startItemView(connection: Connection, folderId: number, itemId: number): ItemTarget[] {
    const existing = this.itemViews.get(connection);
    if (existing && existing.folderId === folderId && existing.itemId === itemId) return [];
    const changed = existing ? this.stopItemView(connection, null, null) : [];
    this.itemViews.set(connection, { folderId, itemId });
    const folder = this.itemsByFolder.get(folderId) ?? new Map<Connection, number>();
    folder.set(connection, itemId);
    this.itemsByFolder.set(folderId, folder);
    return [...changed, { folderId, itemId }];
  }

  /** Clears this tab's view when it matches the given folder / item (null matches anything). */
  stopItemView(connection: Connection, folderId: number | null, itemId: number | null): ItemTarget[] {
    const existing = this.itemViews.get(connection);
    if (!existing) return [];
    if (folderId !== null && existing.folderId !== folderId) return [];
    if (itemId !== null && existing.itemId !== itemId) return [];
    this.itemViews.delete(connection);
    const folder = this.itemsByFolder.get(existing.folderId);
    folder?.delete(connection);
    if (folder && folder.size === 0) this.itemsByFolder.delete(existing.folderId);
    return [existing];
  }

  itemViewers(folderId: number, itemId: number): Viewer[] {
    const viewers = new Map<number, Viewer>();
    for (const [connection, viewed] of this.itemsByFolder.get(folderId) ?? []) {
      if (viewed === itemId) viewers.set(connection.userId, viewerOf(connection));
    }
    return [...viewers.values()];
  }

  folderViewers(folderId: number): Array<{ item_id: number; viewers: Viewer[] }> {
    const items = new Map<number, Map<number, Viewer>>();
    for (const [connection, itemId] of this.itemsByFolder.get(folderId) ?? []) {
      const viewers = items.get(itemId) ?? new Map<number, Viewer>();
      viewers.set(connection.userId, viewerOf(connection));
      items.set(itemId, viewers);
    }
    return [...items].map(([item_id, viewers]) => ({ item_id, viewers: [...viewers.values()] }));
  }

  startKbView(connection: Connection, kbId: number): number[] {
    const existing = this.kbViews.get(connection);
    if (existing === kbId) return [];
    this.kbViews.set(connection, kbId);
    return existing === undefined ? [kbId] : [existing, kbId];
  }

  stopKbView(connection: Connection, kbId: number | null): number[] {
    const existing = this.kbViews.get(connection);
    if (existing === undefined || (kbId !== null && existing !== kbId)) return [];
    this.kbViews.delete(connection);
    return [existing];
  }

  kbViewers(kbId: number): Viewer[] {
    const viewers = new Map<number, Viewer>();
    for (const [connection, viewed] of this.kbViews) if (viewed === kbId) viewers.set(connection.userId, viewerOf(connection));
    return [...viewers.values()];
  }

  allKbViewers(): Array<{ kb_id: number; viewers: Viewer[] }> {
    const ids = new Set(this.kbViews.values());
    return [...ids].map((kb_id) => ({ kb_id, viewers: this.kbViewers(kb_id) }));
  }

  /** Everything a closing tab was viewing. */
  clear(connection: Connection): { items: ItemTarget[]; kbs: number[] } {
    return { items: this.stopItemView(connection, null, null), kbs: this.stopKbView(connection, null) };
  }
}

export function viewerOf(connection: Connection): Viewer {
  const { userId, login, displayName } = connection.identity;
  return { user_id: userId, user_login: login, user_display_name: displayName };
}
