import { setTimeout as sleep } from 'node:timers/promises';
import { databaseError, type Database } from '../db/knex.js';
import { TeampassWsError } from '../errors.js';
import type { EmitPlan } from './emit-plan.js';
import { SettingsRepository } from '../db/misc.js';

/** misc websocket_enabled: '1' on, anything else off; null when the row (or TeamPass's misc table) is absent. */
export async function readWebsocketEnabled(db: Database): Promise<string | null> {
  try {
    return await new SettingsRepository(db).read('websocket_enabled');
  } catch (err) {
    throw databaseError(err, db);
  }
}

export async function requireEventsTable(db: Database): Promise<void> {
  let exists: boolean;
  try {
    exists = await db.knex.schema.hasTable(db.t.events);
  } catch (err) {
    throw databaseError(err, db);
  }
  if (!exists) {
    throw new TeampassWsError('MIGRATION', `The database ${db.description} has no ${db.t.events} table.`, {
      suggestion: 'Run `teampass-ws migrate` with the same --db / --teampass-root (and --prefix) first.',
    });
  }
}

/** Inserts the plan's rows in one transaction, as TeamPass's producer does: all of them or none. */
export async function writeEvents(db: Database, plan: EmitPlan): Promise<number[]> {
  const payload = JSON.stringify(plan.payload);
  try {
    return await db.knex.transaction(async (trx) => {
      const ids: number[] = [];
      for (const row of plan.rows) {
        const [id] = (await trx(db.t.events).insert({
          event_type: plan.eventType,
          target_type: row.targetType,
          target_id: row.targetId,
          payload,
          processed: 0,
        })) as number[];
        ids.push(Number(id));
      }
      return ids;
    });
  } catch (err) {
    throw databaseError(err, db);
  }
}

export interface WaitResult {
  processed: boolean;
  elapsedMs: number;
}

/**
 * Waits until a daemon has marked every row processed. A row that is gone counts as processed:
 * only processed rows are ever cleaned up.
 */
export async function waitProcessed(db: Database, ids: readonly number[], timeoutMs: number, pollMs = 100): Promise<WaitResult> {
  const started = Date.now();
  for (;;) {
    let rows: Array<{ id: number; processed: number | string | null }>;
    try {
      rows = await db.knex(db.t.events).whereIn('id', [...ids]).select('id', 'processed');
    } catch (err) {
      throw databaseError(err, db);
    }
    const pending = rows.filter((r) => Number(r.processed) !== 1);
    const elapsedMs = Date.now() - started;
    if (pending.length === 0) return { processed: true, elapsedMs };
    if (elapsedMs >= timeoutMs) return { processed: false, elapsedMs };
    await sleep(Math.min(pollMs, Math.max(1, timeoutMs - elapsedMs)));
  }
}
