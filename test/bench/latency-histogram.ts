/**
 * Delivery latencies at load, too many to ship between processes one by one: a histogram with
 * buckets 2 % wide from 0.1 ms up, merged across load workers, read back as percentiles.
 */
const FLOOR_MS = 0.1;
const STEP = Math.log(1.02);

export class LatencyHistogram {
  private readonly counts = new Map<number, number>();
  total = 0;

  add(ms: number): void {
    const bucket = ms <= FLOOR_MS ? 0 : Math.ceil(Math.log(ms / FLOOR_MS) / STEP);
    this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + 1);
    this.total += 1;
  }

  merge(buckets: Array<[number, number]>): void {
    for (const [b, n] of buckets) {
      this.counts.set(b, (this.counts.get(b) ?? 0) + n);
      this.total += n;
    }
  }

  entries(): Array<[number, number]> {
    return [...this.counts];
  }

  /** The latency (ms, the bucket's upper edge) below which fraction `p` of the deliveries fall. */
  percentile(p: number): number {
    if (this.total === 0) return NaN;
    const wanted = Math.ceil(p * this.total);
    let seen = 0;
    for (const [b, n] of [...this.counts].sort((x, y) => x[0] - y[0])) {
      seen += n;
      if (seen >= wanted) return FLOOR_MS * Math.exp(b * STEP);
    }
    return NaN;
  }
}
