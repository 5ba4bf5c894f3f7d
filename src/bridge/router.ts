import type { Logger } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import { eventTypeLabel } from '../protocol/index.js';
import type { ConnectionDirectory, DeliveryTarget, UserEventHooks } from '../delivery.js';
import { liveFrame, type RoutableEvent } from './event-frame.js';

/**
 * The routing rule for one connection. Live delivery and recovery both ask it, so a replayed
 * event reaches exactly the connections a live one would have reached.
 */
export function mayReceive(target: DeliveryTarget, event: RoutableEvent): boolean {
  if (event.targetType === 'user') return target.userId === event.targetId;
  // As the PHP daemon: the actor named in exclude_user_id never gets their own folder, kb or broadcast event.
  if (target.userId === event.excludeUserId) return false;
  switch (event.targetType) {
    case 'folder': {
      const folderId = event.targetId!;
      return target.isSubscribedToFolder(folderId) && target.mayAccessFolder(folderId);
    }
    case 'kb':
      return target.kbSubscribed;
    case 'broadcast':
      return true;
  }
}

function candidates(directory: ConnectionDirectory, event: RoutableEvent): Iterable<DeliveryTarget> {
  switch (event.targetType) {
    case 'user':
      return directory.byUser(event.targetId!);
    case 'folder':
      return directory.folderSubscribers(event.targetId!);
    case 'kb':
      return directory.kbSubscribers();
    case 'broadcast':
      return directory.all();
  }
}

/** The access recomputation queries the database; a hung one must not stall every later event. */
const HOOK_TIMEOUT_MS = 30_000;

export interface RouterDeps {
  directory: ConnectionDirectory;
  hooks: UserEventHooks;
  metrics: Metrics;
  logger: Logger;
}

export class EventRouter {
  constructor(private readonly deps: RouterDeps) {}

  /** Sends the event's live frame to every connection that may see it; returns how many got it. */
  deliver(event: RoutableEvent, settledId: number): number {
    let sent = 0;
    // Encoded once: the socket library would otherwise turn the text into bytes per recipient.
    const frame = Buffer.from(liveFrame(event, settledId));
    // Snapshot first: a delivery may close a connection and change the directory's sets.
    const recipients = [...candidates(this.deps.directory, event)].filter((t) => mayReceive(t, event));
    for (const target of recipients) {
      try {
        target.deliver(event.id, frame, settledId);
        sent += 1;
      } catch (err) {
        this.deps.logger.warn('Could not deliver an event to a connection', { event_id: event.id, connection: target.id, error: (err as Error).message });
      }
    }
    if (sent > 0) this.deps.metrics.eventsDelivered.inc({ event_type: eventTypeLabel(event.eventType) }, sent);
    return sent;
  }

  /**
   * Runs the server's reaction to user events that change what the user may see. It is awaited
   * before the next event is routed, so a folder event after a revocation never reaches the user.
   */
  async afterDelivery(event: RoutableEvent): Promise<void> {
    if (event.targetType !== 'user' || event.targetId === null) return;
    const userId = event.targetId;
    try {
      if (event.eventType === 'folder_permission_changed') {
        await withTimeout(this.deps.hooks.folderPermissionChanged(userId), HOOK_TIMEOUT_MS);
      } else if (event.eventType === 'session_expired') {
        this.deps.hooks.sessionExpired(userId, event.reason ?? 'session_expired');
      }
    } catch (err) {
      this.deps.logger.error(`Handling ${event.eventType} for user ${userId} failed`, { event_id: event.id, error: (err as Error).message });
    }
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
