import { databaseError, type Database, type EventsRepository, type ReplayTargets } from '../db/index.js';
import { TeampassWsError } from '../errors.js';
import { RepeatedFailureLog, type Logger } from '../log/index.js';
import type { DeliveryTarget, ReplayScope } from '../delivery.js';
import { isBadEvent, parseEventRow } from './event-frame.js';
import { QueryGate } from './query-gate.js';
import { mayReceive } from './router.js';

/**
 * Replay queries running at once; the rest wait their turn. The pool has 10 connections: the
 * others stay free for authentication, the poller, the teardowns and the session checks.
 */
export const REPLAY_QUERIES_AT_ONCE = 4;

export interface ReplayResult {
  recovered: boolean;
  replayed: number;
}

export interface RecoveryDeps {
  db: Database;
  repo: EventsRepository;
  /** The poller's dispatched position, read synchronously. */
  position(): number;
  batchSize: number;
  /** Events whose frame is larger are never sent, replayed neither. */
  maxEventBytes: number;
  logger: Logger;
}

/**
 * Whether every event after `sinceId` is still in the table. Cleanup deletes the oldest rows, so
 * the retained rows are the ids from the oldest one on. The history is complete after `sinceId`
 * when the oldest retained id is at most sinceId + 1 (with an empty table: when nothing was
 * dispatched after sinceId). An id newer than anything this database holds or the poller has
 * dispatched belongs to another history (a restored or different database): not recovered.
 */
export function isRecoverable(sinceId: number, bounds: { oldest: number | null; newest: number | null }, position: number): boolean {
  const newest = Math.max(bounds.newest ?? 0, position);
  const oldest = bounds.oldest ?? position + 1;
  return sinceId <= newest && sinceId >= oldest - 1;
}

/**
 * Replays to one connection the events after `sinceId`, by the live routing rule.
 *
 * No gap, no duplicate: `beginReplay` makes the connection queue live frames, and the replay's
 * upper bound is the poller's position read in the same synchronous step. Every event at or below
 * it was delivered live before the queue existed and is replayed from the table; every event
 * above it is delivered live into the queue, which `endReplay` flushes after the replayed ones.
 *
 * session_expired is not replayed: the connection replaying was authenticated after it, so it
 * describes a session that has already ended, and TeamPass's page would log the user out.
 */
export class Recovery {
  private readonly gate = new QueryGate(REPLAY_QUERIES_AT_ONCE);
  private readonly failures: RepeatedFailureLog;

  constructor(private readonly deps: RecoveryDeps) {
    this.failures = new RepeatedFailureLog(deps.logger, 'Replay failed: the client is closed with 1011 and comes back with the same since');
  }

  async replay(target: DeliveryTarget, sinceId: number, scope?: ReplayScope): Promise<ReplayResult> {
    if (!Number.isSafeInteger(sinceId) || sinceId < 0) {
      throw new TeampassWsError('INPUT', `since must be a non-negative event id, not ${String(sinceId)}.`, {
        suggestion: 'Send the event_id of the last event the client received.',
      });
    }
    target.beginReplay();
    const upTo = this.deps.position();
    let replayed = 0;
    try {
      const recovered = isRecoverable(sinceId, await this.query(() => this.deps.repo.bounds()), upTo);
      const targets = replayTargets(target, scope);
      let after = sinceId;
      while (after < upTo && target.isOpen) {
        const rows = await this.query(() => this.deps.repo.readAfterFor(after, this.deps.batchSize, upTo, targets));
        for (const row of rows) {
          after = row.id;
          const event = parseEventRow(row, this.deps.maxEventBytes);
          if (isBadEvent(event) || event.eventType === 'session_expired') continue;
          if (!mayReceive(target, event) || !inScope(event, scope)) continue;
          const paced = target.deliverReplayed(event.id, event.frame);
          replayed += 1;
          if (paced) await paced;
          if (!target.isOpen) break;
        }
        if (rows.length < this.deps.batchSize) break;
      }
      return { recovered, replayed };
    } catch (err) {
      this.failures.failed({ connection: target.id, since: sinceId, error: (err as Error).message });
      throw err;
    } finally {
      target.endReplay();
    }
  }

  private async query<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await this.gate.run(read);
    } catch (err) {
      throw databaseError(err, this.deps.db);
    }
  }
}

/** What the routing rule may let through to this target, so the query reads nothing else. */
function replayTargets(target: DeliveryTarget, scope: ReplayScope | undefined): ReplayTargets {
  if (scope && 'folderId' in scope) return { broadcast: false, kb: false, folderIds: [scope.folderId] };
  if (scope) return { broadcast: false, kb: true, folderIds: [] };
  return { userId: target.userId, broadcast: true, kb: target.kbSubscribed, folderIds: target.folders };
}

function inScope(event: { targetType: string; targetId: number | null }, scope: ReplayScope | undefined): boolean {
  if (!scope) return true;
  if ('folderId' in scope) return event.targetType === 'folder' && event.targetId === scope.folderId;
  return event.targetType === 'kb';
}
