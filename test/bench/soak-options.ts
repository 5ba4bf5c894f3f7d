import { wholeNumberFromEnv } from './env-options.js';

/** What `npm run soak` runs, and the bounds its verdict holds the daemon to. */
export interface SoakOptions {
  connections: number;
  durationSec: number;
  /** Memory samples before this (counted from the first event) are left out of the slopes. */
  warmupSec: number;
  eventsPerSec: number;
  /** Share of the connections closed and reopened with ?since= every CHURN_EVERY_SEC. */
  churnPercent: number;
  slowConsumers: number;
  workers: number;
  maxRssSlopeKibPerMin: number;
  maxHeapSlopeKibPerMin: number;
  /** TEAMPASS_WS_SOAK_SAMPLES: a CSV file for every memory sample, to plot. */
  samplesFile?: string;
}

export const CHURN_EVERY_SEC = 10;
/** Counted clients one load worker holds at most: far below its open-file limit of 20,000. */
const CLIENTS_PER_WORKER = 8000;
/** Memory samples the slopes need after the warm-up. */
const MIN_MEASURED_SEC = 20;

const LIMITS = {
  TEAMPASS_WS_SOAK_CONNECTIONS: { min: 1, max: 19_000, fallback: 15_000, why: 'the daemon may hold at most 20,000 open files' },
  TEAMPASS_WS_SOAK_SECONDS: { min: 30, max: 86_400, fallback: 600, why: 'from half a minute to a day' },
  TEAMPASS_WS_SOAK_EVENTS_PER_SEC: { min: 1, max: 100, fallback: 5, why: 'small events, each to a folder or a user (a broadcast goes every 10 s besides)' },
  TEAMPASS_WS_SOAK_CHURN_PERCENT: { min: 0, max: 50, fallback: 1, why: `share of the connections closed and reopened every ${CHURN_EVERY_SEC} s` },
  TEAMPASS_WS_SOAK_SLOW_CONSUMERS: { min: 0, max: 500, fallback: 50, why: 'each one may hold max_buffered_bytes in the daemon' },
  TEAMPASS_WS_SOAK_MAX_RSS_SLOPE: { min: 1, max: 1_048_576, fallback: 2048, why: "KiB per minute the daemon RSS outside the V8 heap (native memory, Buffers) may grow with time after the warm-up, beside the heap's peaks" },
  TEAMPASS_WS_SOAK_MAX_HEAP_SLOPE: { min: 1, max: 1_048_576, fallback: 1024, why: 'KiB per minute the V8 heap just after each full collection may grow after the warm-up' },
} as const;

/** Reads the soak's sizes and bounds from the environment; a bad value stops it before it starts. */
export function soakOptionsFromEnv(env: NodeJS.ProcessEnv): SoakOptions {
  const read = (name: keyof typeof LIMITS) => wholeNumberFromEnv(env, name, LIMITS[name]);
  const connections = read('TEAMPASS_WS_SOAK_CONNECTIONS');
  const durationSec = read('TEAMPASS_WS_SOAK_SECONDS');
  const longestWarmup = durationSec - MIN_MEASURED_SEC;
  const warmupSec = wholeNumberFromEnv(env, 'TEAMPASS_WS_SOAK_WARMUP_SECONDS', {
    min: 0,
    max: longestWarmup,
    fallback: Math.min(120, Math.floor(durationSec / 5)),
    why: `memory is measured for at least the last ${MIN_MEASURED_SEC} s of the ${durationSec} s run`,
  });
  const fewestWorkers = Math.max(2, Math.ceil(connections / CLIENTS_PER_WORKER));
  const workers = wholeNumberFromEnv(env, 'TEAMPASS_WS_SOAK_WORKERS', {
    min: fewestWorkers,
    max: 8,
    fallback: fewestWorkers,
    why: `a load worker holds at most ${CLIENTS_PER_WORKER.toLocaleString('en-US')} of the ${connections.toLocaleString('en-US')} connections`,
  });
  return {
    connections,
    durationSec,
    warmupSec,
    eventsPerSec: read('TEAMPASS_WS_SOAK_EVENTS_PER_SEC'),
    churnPercent: read('TEAMPASS_WS_SOAK_CHURN_PERCENT'),
    slowConsumers: read('TEAMPASS_WS_SOAK_SLOW_CONSUMERS'),
    workers,
    maxRssSlopeKibPerMin: read('TEAMPASS_WS_SOAK_MAX_RSS_SLOPE'),
    maxHeapSlopeKibPerMin: read('TEAMPASS_WS_SOAK_MAX_HEAP_SLOPE'),
    ...(env.TEAMPASS_WS_SOAK_SAMPLES ? { samplesFile: env.TEAMPASS_WS_SOAK_SAMPLES } : {}),
  };
}
