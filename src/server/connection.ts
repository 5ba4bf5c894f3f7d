import type { FolderAccess } from '../access/index.js';
import type { Identity } from '../auth/index.js';
import type { AuditRow } from './audit.js';
import type { ClientSocket } from './client-socket.js';
import type { DeliveryTarget, WireFrame } from '../delivery.js';
import { SentIds } from './sent-ids.js';

/**
 * Ids sent above the settled watermark a connection remembers. The watermark passes them within
 * a poll unless a transaction stays open; past this many the oldest is forgotten, which at worst
 * lets a replay send it twice (the project's client drops the second copy), never loses one.
 */
const SENT_IDS_KEPT = 8_192;

/**
 * One authenticated client as the bridge sees it: who it is, what it subscribed to, what it may
 * see, and the event stream's order (ids ascending, no duplicate, live frames held back while a
 * replay runs).
 */
const NO_FOLDERS: readonly number[] = Object.freeze([]);

export class Connection implements DeliveryTarget {
  /**
   * The folders subscribed to, in subscription order: a small array replaced on each change, never
   * changed in place (a Set of three costs about 80 bytes more per connection than an array of
   * three, and subscriptions change rarely).
   */
  folders: readonly number[] = NO_FOLDERS;
  kbSubscribed = false;
  readonly connectedAtSec = Math.floor(Date.now() / 1000);
  /**
   * The upgrade's `?since=`: the first subscription to each channel recovers from it, whenever it
   * is sent (TeamPass's client subscribes as soon as the socket opens, the project's client after
   * `connected`; neither may race authentication).
   */
  recoverySince: number | undefined;
  /** Channels ('folder:10', 'kb') whose first subscription has already used `recoverySince`. */
  private recoveredChannels: Set<string> | undefined;
  /** Its websocket_connections row (null until registered). */
  auditRow: AuditRow | null = null;

  private replays = 0;
  private queued: Array<{ id: number; frame: WireFrame; settledId: number | undefined }> = [];
  private queuedBytes = 0;
  private readonly sent = new SentIds(SENT_IDS_KEPT);

  /** `verdicts` is the daemon's cache of access verdicts (one for every connection), `firstVerdict` the one computed at login. */
  constructor(
    readonly id: string,
    readonly socket: ClientSocket,
    readonly identity: Identity,
    private readonly verdicts: { peek(userId: number): FolderAccess | undefined },
    private readonly firstVerdict: FolderAccess | undefined,
  ) {}

  /** The user's current verdict: the cached one, else the one of the login. */
  private access(): FolderAccess | undefined {
    return this.verdicts.peek(this.identity.userId) ?? this.firstVerdict;
  }

  get userId(): number {
    return this.identity.userId;
  }

  /** From the current verdict, so an admin demoted in TeamPass loses admin actions at the next check. */
  get isAdmin(): boolean {
    return this.access()?.isAdmin ?? this.identity.isAdmin;
  }

  isSubscribedToFolder(folderId: number): boolean {
    return this.folders.includes(folderId);
  }

  /** Adds the folder to the subscriptions; false when it was there already. */
  addFolder(folderId: number): boolean {
    if (this.folders.includes(folderId)) return false;
    // concat sizes the new array exactly (a spread or a filter leaves room for more).
    this.folders = this.folders.concat(folderId);
    return true;
  }

  /** Removes the folder from the subscriptions; false when it was not there. */
  removeFolder(folderId: number): boolean {
    const at = this.folders.indexOf(folderId);
    if (at < 0) return false;
    this.folders = this.folders.length === 1 ? NO_FOLDERS : this.folders.slice(0, at).concat(this.folders.slice(at + 1));
    return true;
  }

  mayAccessFolder(folderId: number): boolean {
    if (!this.access()?.folders.has(folderId)) return false;
    return this.identity.allowedFolders === null || this.identity.allowedFolders.has(folderId);
  }

  /** The id a subscription without since_event_id recovers from: `recoverySince`, once per channel. */
  takeRecoverySince(channel: string): number | undefined {
    if (this.recoverySince === undefined || this.recoveredChannels?.has(channel)) return undefined;
    (this.recoveredChannels ??= new Set()).add(channel);
    return this.recoverySince;
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

  deliver(eventId: number, frame: WireFrame, settledId?: number): void {
    if (this.replays > 0) {
      this.queued.push({ id: eventId, frame, settledId });
      this.queuedBytes += frame.length;
      if (this.socket.exceedsCeiling(this.queuedBytes)) {
        this.queued = [];
        this.queuedBytes = 0;
      }
      return;
    }
    this.sendLive(eventId, frame, settledId);
  }

  /** Nested replays (a subscribe's inside its own hold) end together, at the outermost. */
  beginReplay(): void {
    this.replays += 1;
  }

  deliverReplayed(eventId: number, frame: string): Promise<void> | void {
    if (this.sent.has(eventId)) return;
    this.sent.add(eventId);
    return this.socket.sendPaced(frame);
  }

  endReplay(): void {
    if (this.replays === 0) return;
    this.replays -= 1;
    if (this.replays > 0) return;
    const queued = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    for (const q of queued) this.sendLive(q.id, q.frame, q.settledId);
  }

  get isOpen(): boolean {
    return this.socket.isOpen;
  }

  get replaying(): boolean {
    return this.replays > 0;
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  /** 'folder:10', 'kb:0': the subscription names TeamPass's get_status reports. */
  subscriptionNames(): string[] {
    return [...[...this.folders].map((f) => `folder:${f}`), ...(this.kbSubscribed ? ['kb:0'] : [])];
  }

  /**
   * The poller dispatches each id once, so only a replay can repeat one: ids sent are kept until
   * the settled watermark passes them (a replay runs before its subscription goes live, see
   * subscribe, so it cannot re-read one sent live below the watermark).
   */
  private sendLive(eventId: number, frame: WireFrame, settledId: number | undefined): void {
    if (!this.sent.has(eventId)) {
      this.socket.send(frame);
      // At or below the watermark no replay can read it again: nothing to remember.
      if (settledId === undefined || eventId > settledId) this.sent.add(eventId);
    }
    if (settledId !== undefined) this.sent.forgetUpTo(settledId);
  }
}
