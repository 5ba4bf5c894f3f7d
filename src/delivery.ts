/**
 * The seam between the server (connections) and the bridge (events from the table), types only:
 * what the bridge may ask of a live connection and of the set of them, and what the server asks
 * of the bridge. Neither side imports the other; `serve` wires both when it builds the server.
 */
/**
 * A serialised frame as it goes on the wire: text, or its UTF-8 bytes when one frame goes to
 * many connections (encoded once, not once per recipient).
 */
export type WireFrame = string | Buffer;

export interface DeliveryTarget {
  /** Unique per process, e.g. the websocket_connections resource_id. */
  readonly id: string;
  readonly userId: number;
  readonly isAdmin: boolean;
  readonly kbSubscribed: boolean;
  /** The folders subscribed to. */
  readonly folders: readonly number[];
  isSubscribedToFolder(folderId: number): boolean;
  /** The current folder-access verdict (TeamPass's rule, cached per user; JWT allowed_folders applied). */
  mayAccessFolder(folderId: number): boolean;
  /**
   * Sends one serialised live event frame. Ids usually ascend, but one that committed late comes
   * after higher ones; `settledId` is the poller's settled watermark (every id at or below it was
   * delivered before, or is gone). The connection drops an id it already sent (no duplicate),
   * and while a replay is running it holds live frames back until `endReplay`.
   */
  deliver(eventId: number, frame: WireFrame, settledId?: number): void;
  /** Starts a replay: live deliveries are queued from here on. */
  beginReplay(): void;
  /**
   * Sends a replayed frame (ids ascending). When the client is behind by half its ceiling it
   * returns a promise, settled once this frame has left for the client (or it closed): the replay
   * waits for it before sending more, so a history of any size reaches a client that reads.
   */
  deliverReplayed(eventId: number, frame: string): Promise<void> | void;
  /** Ends the replay: the queued live frames it did not send are sent, in the order they came. */
  endReplay(): void;
  /** False once the client is gone or closing: a replay to it stops. */
  readonly isOpen: boolean;
  /** Closes with a websocket close code, after any frames already sent. */
  close(code: number, reason: string): void;
}

export interface ConnectionDirectory {
  byUser(userId: number): Iterable<DeliveryTarget>;
  folderSubscribers(folderId: number): Iterable<DeliveryTarget>;
  kbSubscribers(): Iterable<DeliveryTarget>;
  all(): Iterable<DeliveryTarget>;
}

/** What the bridge asks the server to do when certain user events pass by. */
export interface UserEventHooks {
  /** Recompute the user's access and drop subscriptions that lost it (telling the client). */
  folderPermissionChanged(userId: number): Promise<void>;
  /** After the session_expired frame went out: close the user's connections (4401 for clients that asked for the precise codes, else 1000). */
  sessionExpired(userId: number, reason: string): void;
}

/**
 * One channel to replay. A subscribe that asks for recovery gets only its channel's events: the
 * rest of the stream (user events, broadcasts, other subscriptions) already reached it.
 */
export type ReplayScope = { folderId: number } | { kb: true };

/** The server's half, handed to the feed's factory while the server is built. */
export interface ConnectionSide {
  readonly directory: ConnectionDirectory;
  readonly hooks: UserEventHooks;
}

/** What the server asks of the event bridge: the newest id, recovery, and its health. */
export interface EventFeed {
  /** The newest event id the poller has dispatched (0 before the first poll); sent in `connected`. */
  lastEventId(): number;
  /** The settled watermark: every id at or below it was dispatched or is gone. */
  settledEventId(): number;
  /**
   * Replays to one connection, in id order and filtered by the routing rules, the events after
   * `sinceId` that it may see, then lets live delivery continue with no gap and no duplicate.
   * `recovered` is false when `sinceId` is older than the retained history.
   */
  replay(target: DeliveryTarget, sinceId: number, scope?: ReplayScope): Promise<{ recovered: boolean; replayed: number }>;
  health(): FeedHealth;
}

export interface FeedHealth {
  /** The last poll reached the database. */
  dbReachable: boolean;
  /** ms since the last successful poll. */
  pollLagMs: number;
  lastEventId: number;
}

/** An extra HTTP route on the daemon's port; returns true when it answered the request. */
export type HttpRoute = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean | Promise<boolean>;
