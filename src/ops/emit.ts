import { setTimeout as sleep } from 'node:timers/promises';
import { databaseError, EventsRepository, SettingsRepository, type Database } from '../db/index.js';
import { TeampassWsError } from '../errors.js';
import type { EmitPlan } from './emit-plan.js';
import { sendWake } from './wake.js';

export interface EmitOptions {
  /** config wake_port; 0 sends no datagram. */
  wakePort: number;
  /** Wait this long for a daemon to mark the rows processed; undefined does not wait. */
  waitTimeoutMs?: number;
}

export interface WaitResult {
  processed: boolean;
  elapsedMs: number;
}

export interface EmitOutcome {
  ids: number[];
  /** misc websocket_enabled as found ('1' on); null when TeamPass's setting is absent. */
  websocketEnabled: string | null;
  /** 'sent', 'off' (wake_port 0) or the error that kept the datagram from leaving. */
  wake: 'sent' | 'off' | { error: string };
  wait?: WaitResult;
}

/**
 * Writes the planned rows, then wakes the daemon and optionally waits for it. TeamPass's own
 * producer skips the write when websocket_enabled is not '1'; an admin running emit means it,
 * so the row is written either way and the caller is told the setting's state.
 */
export async function emitEvent(db: Database, plan: EmitPlan, options: EmitOptions): Promise<EmitOutcome> {
  const events = new EventsRepository(db);
  const payload = JSON.stringify(plan.payload);
  let exists: boolean;
  try {
    exists = await events.tableExists();
  } catch (err) {
    throw databaseError(err, db);
  }
  if (!exists) {
    throw new TeampassWsError('MIGRATION', `The database ${db.description} has no ${db.t.events} table.`, {
      suggestion: 'Run `teampass-ws migrate` with the same --db / --teampass-root (and --prefix) first.',
    });
  }
  let websocketEnabled: string | null;
  let ids: number[];
  try {
    websocketEnabled = await new SettingsRepository(db).read('websocket_enabled');
    ids = await events.insertAll(plan.rows.map((row) => ({ eventType: plan.eventType, targetType: row.targetType, targetId: row.targetId, payload })));
  } catch (err) {
    throw databaseError(err, db);
  }
  let wake: EmitOutcome['wake'] = 'off';
  if (options.wakePort > 0) {
    try {
      await sendWake(options.wakePort);
      wake = 'sent';
    } catch (err) {
      wake = { error: (err as Error).message };
    }
  }
  const wait = options.waitTimeoutMs === undefined ? undefined : await waitProcessed(db, events, ids, options.waitTimeoutMs);
  return { ids, websocketEnabled, wake, ...(wait ? { wait } : {}) };
}

/**
 * Waits until a daemon has marked every row processed. A row that is gone counts as processed:
 * only processed rows are ever cleaned up.
 */
async function waitProcessed(db: Database, events: EventsRepository, ids: readonly number[], timeoutMs: number, pollMs = 100): Promise<WaitResult> {
  const started = Date.now();
  for (;;) {
    let pending: number[];
    try {
      pending = await events.unprocessedAmong(ids);
    } catch (err) {
      throw databaseError(err, db);
    }
    const elapsedMs = Date.now() - started;
    if (pending.length === 0) return { processed: true, elapsedMs };
    if (elapsedMs >= timeoutMs) return { processed: false, elapsedMs };
    await sleep(Math.min(pollMs, Math.max(1, timeoutMs - elapsedMs)));
  }
}
