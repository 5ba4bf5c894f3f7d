import type { FolderAccess } from '../access/index.js';
import type { Identity } from '../auth/index.js';
import type { ClientSocket } from './client-socket.js';
import type { DeliveryTarget } from './delivery.js';

/** How many recently sent event ids a connection remembers, so a replay does not repeat them. */
const RECENT_IDS = 64;

/**
 * One authenticated client as the bridge sees it: who it is, what it subscribed to, what it may
 * see, and the event stream's order (ids ascending, no duplicate, live frames held back while a
 * replay runs).
 */
export class Connection implements DeliveryTarget {
  readonly folders = new Set<number>();
  kbSubscribed = false;
  readonly connectedAtSec = Math.floor(Date.now() / 1000);
  /**
   * The upgrade's `?since=`, while the messages the client sent before it was authenticated are
   * answered: TeamPass's client subscribes as soon as the socket opens, and those subscriptions
   * recover their channel from the same point.
   */
  recoverySince: number | undefined;
  /** The websocket_connections row id (null when it could not be written). */
  auditRow: Promise<number | null> = Promise.resolve(null);

  private lastSentId = 0;
  private replays = 0;
  private lastReplayedId = 0;
  private queued: Array<{ id: number; frame: string }> = [];
  private queuedBytes = 0;
  private readonly recent: number[] = [];

  constructor(
    readonly id: string,
    readonly socket: ClientSocket,
    readonly identity: Identity,
    private readonly access: () => FolderAccess | undefined,
  ) {}

  get userId(): number {
    return this.identity.userId;
  }

  /** From the current verdict, so an admin demoted in TeamPass loses admin actions at the next check. */
  get isAdmin(): boolean {
    return this.access()?.isAdmin ?? this.identity.isAdmin;
  }

  isSubscribedToFolder(folderId: number): boolean {
    return this.folders.has(folderId);
  }

  mayAccessFolder(folderId: number): boolean {
    if (!this.access()?.folders.has(folderId)) return false;
    return this.identity.allowedFolders === null || this.identity.allowedFolders.has(folderId);
  }

  mayUseKb(): boolean {
    return this.access()?.kb === true;
  }

  /** Protocol frames (replies, presence): they carry no event id and are never held back. */
  send(frame: string): void {
    this.socket.send(frame);
  }

  sendJson(value: unknown): void {
    this.socket.sendJson(value);
  }

  deliver(eventId: number, frame: string): void {
    if (this.replays > 0) {
      this.queued.push({ id: eventId, frame });
      this.queuedBytes += frame.length;
      if (this.socket.exceedsCeiling(this.queuedBytes)) {
        this.queued = [];
        this.queuedBytes = 0;
      }
      return;
    }
    if (eventId <= this.lastSentId) return;
    this.sendEvent(eventId, frame);
    this.lastSentId = eventId;
  }

  beginReplay(): void {
    if (this.replays === 0) this.lastReplayedId = 0;
    this.replays += 1;
  }

  deliverReplayed(eventId: number, frame: string): void {
    if (eventId <= this.lastReplayedId || this.recent.includes(eventId)) return;
    this.sendEvent(eventId, frame);
    this.lastReplayedId = eventId;
  }

  endReplay(): void {
    if (this.replays === 0) return;
    this.replays -= 1;
    if (this.replays > 0) return;
    let floor = Math.max(this.lastSentId, this.lastReplayedId);
    const queued = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    for (const { id, frame } of queued) {
      if (id <= floor) continue;
      this.sendEvent(id, frame);
      floor = id;
    }
    this.lastSentId = floor;
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  /** 'folder:10', 'kb:0': the subscription names TeamPass's get_status reports. */
  subscriptionNames(): string[] {
    return [...[...this.folders].map((f) => `folder:${f}`), ...(this.kbSubscribed ? ['kb:0'] : [])];
  }

  private sendEvent(eventId: number, frame: string): void {
    this.socket.send(frame);
    this.recent.push(eventId);
    if (this.recent.length > RECENT_IDS) this.recent.shift();
  }
}
