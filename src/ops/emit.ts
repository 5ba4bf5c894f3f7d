import type { Database } from '../db/knex.js';
import type { EmitPlan } from './emit-plan.js';
import { readWebsocketEnabled, requireEventsTable, waitProcessed, writeEvents, type WaitResult } from './events-store.js';
import { sendWake } from './wake.js';

export interface EmitOptions {
  /** config wake_port; 0 sends no datagram. */
  wakePort: number;
  /** Wait this long for a daemon to mark the rows processed; undefined does not wait. */
  waitTimeoutMs?: number;
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
  await requireEventsTable(db);
  const websocketEnabled = await readWebsocketEnabled(db);
  const ids = await writeEvents(db, plan);
  let wake: EmitOutcome['wake'] = 'off';
  if (options.wakePort > 0) {
    try {
      await sendWake(options.wakePort);
      wake = 'sent';
    } catch (err) {
      wake = { error: (err as Error).message };
    }
  }
  const wait = options.waitTimeoutMs === undefined ? undefined : await waitProcessed(db, ids, options.waitTimeoutMs);
  return { ids, websocketEnabled, wake, ...(wait ? { wait } : {}) };
}
