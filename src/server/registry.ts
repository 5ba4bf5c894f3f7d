import type { Metrics } from '../metrics/index.js';
import type { Connection } from './connection.js';
import type { ConnectionDirectory } from '../delivery.js';

export interface Stats {
  total_connections: number;
  unique_users: number;
  /** Folders with at least one subscriber, as the PHP daemon counts them. */
  folder_subscriptions: number;
  /** Connections subscribed to the KB channel. */
  kb_subscriptions: number;
}

/** The live connections, indexed by user, folder and KB subscription. */
export class ConnectionRegistry implements ConnectionDirectory {
  private readonly connections = new Set<Connection>();
  private readonly users = new Map<number, Set<Connection>>();
  private readonly folders = new Map<number, Set<Connection>>();
  private readonly kb = new Set<Connection>();

  constructor(private readonly metrics: Metrics) {}

  add(connection: Connection): void {
    this.connections.add(connection);
    const set = this.users.get(connection.userId) ?? new Set<Connection>();
    set.add(connection);
    this.users.set(connection.userId, set);
    this.updateGauges();
  }

  /** Removes the connection and its subscriptions; true when it was the user's last one here. */
  remove(connection: Connection): boolean {
    if (!this.connections.delete(connection)) return false;
    for (const folderId of connection.folders) this.unsubscribeFolder(connection, folderId);
    this.unsubscribeKb(connection);
    const set = this.users.get(connection.userId);
    set?.delete(connection);
    const last = !set || set.size === 0;
    if (last) this.users.delete(connection.userId);
    this.updateGauges();
    return last;
  }

  has(connection: Connection): boolean {
    return this.connections.has(connection);
  }

  countForUser(userId: number): number {
    return this.users.get(userId)?.size ?? 0;
  }

  userIds(): number[] {
    return [...this.users.keys()];
  }

  subscribeFolder(connection: Connection, folderId: number): void {
    if (!connection.addFolder(folderId)) return;
    const set = this.folders.get(folderId) ?? new Set<Connection>();
    set.add(connection);
    this.folders.set(folderId, set);
    this.metrics.subscriptions.inc({ channel: 'folder' });
  }

  unsubscribeFolder(connection: Connection, folderId: number): boolean {
    if (!connection.removeFolder(folderId)) return false;
    const set = this.folders.get(folderId);
    set?.delete(connection);
    if (set && set.size === 0) this.folders.delete(folderId);
    this.metrics.subscriptions.dec({ channel: 'folder' });
    return true;
  }

  subscribeKb(connection: Connection): void {
    if (connection.kbSubscribed) return;
    connection.kbSubscribed = true;
    this.kb.add(connection);
    this.metrics.subscriptions.inc({ channel: 'kb' });
  }

  unsubscribeKb(connection: Connection): boolean {
    if (!connection.kbSubscribed) return false;
    connection.kbSubscribed = false;
    this.kb.delete(connection);
    this.metrics.subscriptions.dec({ channel: 'kb' });
    return true;
  }

  stats(): Stats {
    return { total_connections: this.connections.size, unique_users: this.users.size, folder_subscriptions: this.folders.size, kb_subscriptions: this.kb.size };
  }

  byUser(userId: number): Iterable<Connection> {
    return this.users.get(userId) ?? [];
  }

  folderSubscribers(folderId: number): Iterable<Connection> {
    return this.folders.get(folderId) ?? [];
  }

  kbSubscribers(): Iterable<Connection> {
    return this.kb;
  }

  all(): Iterable<Connection> {
    return this.connections;
  }

  get size(): number {
    return this.connections.size;
  }

  private updateGauges(): void {
    this.metrics.connections.set(this.connections.size);
    this.metrics.users.set(this.users.size);
  }
}
