/** The bench's sizes, read from the environment and checked before anything starts. */
import { wholeNumberFromEnv } from './env-options.js';

export interface BenchOptions {
  /** Client connections held against each server (N). */
  connections: number;
  /** Rounds per scenario; the table shows the median round. */
  rounds: number;
  /** Load worker processes holding the clients. */
  workers: number;
  /** How long events go out at 50/s in one latency round (s). */
  loadSeconds: number;
  /** How long the idle daemon's CPU time is sampled (s). */
  idleSeconds: number;
  /** Rows in the events table for the idle poll cost: recent ones, and older ones retained. */
  idleRecentRows: number;
  idleOldRows: number;
  quick: boolean;
}

const FULL = { connections: 15_000, rounds: 3, loadSeconds: 10, idleSeconds: 30, idleRecentRows: 100_000, idleOldRows: 1_000_000 };
const QUICK = { connections: 1_000, rounds: 2, loadSeconds: 3, idleSeconds: 5, idleRecentRows: 10_000, idleOldRows: 100_000 };

/**
 * TEAMPASS_WS_BENCH_QUICK=1 picks small defaults for a run of a minute or two; every size can
 * still be set on its own.
 */
export function benchOptionsFromEnv(env: NodeJS.ProcessEnv): BenchOptions {
  const quick = wholeNumberFromEnv(env, 'TEAMPASS_WS_BENCH_QUICK', { min: 0, max: 1, fallback: 0, why: '1 for a short run with small sizes, 0 for the full run' }) === 1;
  const d = quick ? QUICK : FULL;
  const read = (name: string, min: number, max: number, fallback: number, why: string) => wholeNumberFromEnv(env, name, { min, max, fallback, why });
  return {
    quick,
    connections: read('TEAMPASS_WS_BENCH_CONNECTIONS', 30, 19_000, d.connections, 'the server process may hold at most 20,000 open files'),
    rounds: read('TEAMPASS_WS_BENCH_ROUNDS', 1, 9, d.rounds, 'each round starts a fresh server; the median round is shown'),
    workers: read('TEAMPASS_WS_BENCH_WORKERS', 2, 8, 2, 'at least two keep each worker well under the open-file limit'),
    loadSeconds: read('TEAMPASS_WS_BENCH_LOAD_SECONDS', 1, 120, d.loadSeconds, 'seconds of 50 folder events/s per latency round'),
    idleSeconds: read('TEAMPASS_WS_BENCH_IDLE_SECONDS', 1, 300, d.idleSeconds, "seconds the idle daemon's CPU time is sampled"),
    idleRecentRows: read('TEAMPASS_WS_BENCH_IDLE_RECENT_ROWS', 0, 10_000_000, d.idleRecentRows, 'recent rows in the events table for the idle poll cost'),
    idleOldRows: read('TEAMPASS_WS_BENCH_IDLE_OLD_ROWS', 0, 10_000_000, d.idleOldRows, 'older retained rows in the events table for the idle poll cost'),
  };
}
