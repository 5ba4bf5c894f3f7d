import { procMemory, scrapeMetrics } from './process-memory.js';

/** One reading of the daemon's memory during the soak. */
export interface MemorySample {
  /** Seconds since the first event. */
  atSec: number;
  rss: number;
  heapUsed: number;
  /** V8's committed heap (nodejs_heap_size_total_bytes): part of the RSS, sized by the collector. */
  heapTotal: number;
  /** Memory outside the V8 heap that JS objects hold (Buffers and the like; nodejs_external_memory_bytes). */
  external: number;
}

export const HEAP_USED_METRIC = 'teampass_ws_nodejs_heap_size_used_bytes';
const HEAP_TOTAL_METRIC = 'teampass_ws_nodejs_heap_size_total_bytes';
const EXTERNAL_METRIC = 'teampass_ws_nodejs_external_memory_bytes';

/** Least-squares slope of y over x (y units per x unit); 0 with fewer than two points. */
export function leastSquaresSlope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

/**
 * The lowest value in each window of `windowSec`: the heap right after a collection. Its slope is
 * what a leak moves; the sawtooth between collections averages out only over many windows.
 */
export function floors(samples: MemorySample[], windowSec: number, pick: (s: MemorySample) => number): Array<[number, number]> {
  const byWindow = new Map<number, [number, number]>();
  for (const s of samples) {
    const w = Math.floor(s.atSec / windowSec);
    const v = pick(s);
    const current = byWindow.get(w);
    if (!current || v < current[1]) byWindow.set(w, [s.atSec, v]);
  }
  return [...byWindow.values()];
}

/** Bytes per second → KiB per minute. */
export const kibPerMin = (bytesPerSec: number) => (bytesPerSec * 60) / 1024;

/** Samples the daemon's RSS (/proc) and V8 heap used (/metrics) every `everyMs` until stopped. */
export class MemoryWatch {
  readonly samples: MemorySample[] = [];
  /** Samples /metrics did not answer (in time); the first reason. */
  unanswered = 0;
  firstUnanswered: string | undefined;
  private readonly timer: NodeJS.Timeout;
  private gone: Error | undefined;

  constructor(
    private readonly pid: number,
    private readonly port: number,
    private readonly startedAtMs: number,
    everyMs: number,
  ) {
    this.timer = setInterval(() => void this.sample(), everyMs);
  }

  /** The samples; throws when the daemon process itself could no longer be read (it died). */
  stop(): MemorySample[] {
    clearInterval(this.timer);
    if (this.gone) throw this.gone;
    return this.samples;
  }

  private async sample(): Promise<void> {
    const atSec = (Date.now() - this.startedAtMs) / 1000;
    let rss: number;
    try {
      rss = procMemory(this.pid).rss;
    } catch (err) {
      this.gone ??= new Error(`reading the daemon's memory failed: ${(err as Error).message}`);
      return;
    }
    try {
      const m = await scrapeMetrics(this.port);
      const read = (name: string) => {
        const v = m.get(name);
        if (v === undefined) throw new Error(`/metrics has no ${name}`);
        return v;
      };
      this.samples.push({ atSec, rss, heapUsed: read(HEAP_USED_METRIC), heapTotal: read(HEAP_TOTAL_METRIC), external: read(EXTERNAL_METRIC) });
    } catch (err) {
      // A daemon too busy to answer /metrics is a finding of the soak, not the end of it.
      this.unanswered += 1;
      this.firstUnanswered ??= `at ${Math.round(atSec)} s: ${(err as Error).message}`;
    }
  }
}
