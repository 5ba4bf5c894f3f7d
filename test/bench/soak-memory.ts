import { writeFileSync } from 'node:fs';
import { BenchInputError } from './env-options.js';
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
  /** The heap in use just after the daemon's last full collection: its live objects (0 before the first). */
  heapAfterFullGc: number;
  /** Full collections so far (nodejs_gc_duration_seconds_count{kind="major"}). */
  fullCollections: number;
}

export const HEAP_USED_METRIC = 'teampass_ws_nodejs_heap_size_used_bytes';
const HEAP_TOTAL_METRIC = 'teampass_ws_nodejs_heap_size_total_bytes';
const EXTERNAL_METRIC = 'teampass_ws_nodejs_external_memory_bytes';
const HEAP_AFTER_FULL_GC_METRIC = 'teampass_ws_heap_after_full_gc_bytes';
const FULL_COLLECTIONS_METRIC = 'teampass_ws_nodejs_gc_duration_seconds_count{kind="major"}';

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
 * The median of the slopes between every two points (Theil–Sen): a steady rise moves every pair,
 * one point off the line (a collection that ran during a burst of queued frames) moves few of
 * them. 0 with fewer than two points.
 */
export function medianSlope(points: Array<[number, number]>): number {
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i += 1) {
    for (let j = i + 1; j < points.length; j += 1) {
      const dx = points[j]![0] - points[i]![0];
      if (dx !== 0) slopes.push((points[j]![1] - points[i]![1]) / dx);
    }
  }
  if (slopes.length === 0) return 0;
  slopes.sort((a, b) => a - b);
  const mid = slopes.length >> 1;
  return slopes.length % 2 ? slopes[mid]! : (slopes[mid - 1]! + slopes[mid]!) / 2;
}

/**
 * Least squares of y = a + b·x + c·z: the slope `b` of y over x once the part that follows z is
 * taken out, and `c`. When z does not vary apart from x (never moves, or moves with x alone),
 * nothing can be told apart: b is the plain slope and c is 0.
 */
export function slopeBeside(points: Array<[x: number, z: number, y: number]>): { slope: number; perZ: number } {
  const n = points.length;
  const plain = () => ({ slope: leastSquaresSlope(points.map(([x, , y]) => [x, y])), perZ: 0 });
  if (n < 3) return plain();
  const mean = (k: 0 | 1 | 2) => points.reduce((a, p) => a + p[k], 0) / n;
  const [mx, mz, my] = [mean(0), mean(1), mean(2)];
  let sxx = 0;
  let szz = 0;
  let sxz = 0;
  let sxy = 0;
  let szy = 0;
  for (const [x, z, y] of points) {
    const [dx, dz, dy] = [x - mx, z - mz, y - my];
    sxx += dx * dx;
    szz += dz * dz;
    sxz += dx * dz;
    sxy += dx * dy;
    szy += dz * dy;
  }
  const det = sxx * szz - sxz * sxz;
  // z explains nothing x does not (a constant, or a straight function of x): the plain slope.
  if (szz === 0 || det <= 1e-9 * sxx * szz) return plain();
  return { slope: (sxy * szz - szy * sxz) / det, perZ: (szy * sxx - sxy * sxz) / det };
}

/** Each sample with the highest heap used seen from the first of them up to it. */
export function withHeapPeak(samples: MemorySample[]): Array<{ sample: MemorySample; peak: number }> {
  let peak = 0;
  return samples.map((sample) => {
    peak = Math.max(peak, sample.heapUsed);
    return { sample, peak };
  });
}

/** The heap after the latest full collection, once per sample that saw a new one: [seconds, bytes]. */
export function afterEachFullGc(samples: MemorySample[]): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  let seen = samples[0]?.fullCollections ?? 0;
  for (const s of samples) {
    if (s.fullCollections > seen && s.heapAfterFullGc > 0) points.push([s.atSec, s.heapAfterFullGc]);
    seen = Math.max(seen, s.fullCollections);
  }
  return points;
}

/**
 * The lowest value in each window of `windowSec`: near the heap right after a collection, as close
 * as a sample happened to fall (printed; the heap after each full collection is what is judged).
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

const CSV_COLUMNS: Array<keyof MemorySample> = ['atSec', 'rss', 'heapTotal', 'heapUsed', 'external', 'heapAfterFullGc', 'fullCollections'];

/** Starts the samples file with its header line, so that a path that cannot be written stops the soak before it runs. */
export function startSamplesFile(path: string): void {
  try {
    writeFileSync(path, `${CSV_COLUMNS.join(',')}\n`);
  } catch (err) {
    throw new BenchInputError(`TEAMPASS_WS_SOAK_SAMPLES=${path} cannot be written (${(err as Error).message}): give a file path in a writable directory, or unset it.`);
  }
}

/** The samples as CSV lines (bytes and seconds), in the columns of the header. */
export const samplesCsv = (samples: MemorySample[]) => samples.map((s) => `${CSV_COLUMNS.map((c) => s[c]).join(',')}\n`).join('');

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
      this.samples.push({ atSec, rss, heapUsed: read(HEAP_USED_METRIC), heapTotal: read(HEAP_TOTAL_METRIC), external: read(EXTERNAL_METRIC), heapAfterFullGc: read(HEAP_AFTER_FULL_GC_METRIC), fullCollections: m.get(FULL_COLLECTIONS_METRIC) ?? 0 });
    } catch (err) {
      // A daemon too busy to answer /metrics is a finding of the soak, not the end of it.
      this.unanswered += 1;
      this.firstUnanswered ??= `at ${Math.round(atSec)} s: ${(err as Error).message}`;
    }
  }
}
