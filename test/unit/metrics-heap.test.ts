import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createMetrics } from '../../src/metrics/metrics.js';

/** V8's own collector, asked for by name (the test process runs without --expose-gc). */
function collector(): (options?: { type: 'minor' }) => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as (options?: { type: 'minor' }) => void;
}

/** Node reports a collection to observers a few event-loop turns after it. */
async function reported(metrics: ReturnType<typeof createMetrics>, changedFrom: number): Promise<number> {
  for (let waited = 0; waited < 2000; waited += 10) {
    const value = await heapAfterFullGc(metrics);
    if (value !== changedFrom) return value;
    await sleep(10);
  }
  return changedFrom;
}

async function heapAfterFullGc(metrics: ReturnType<typeof createMetrics>): Promise<number> {
  const metric = metrics.registry.getSingleMetric('teampass_ws_heap_after_full_gc_bytes');
  if (!metric) throw new Error('/metrics has no teampass_ws_heap_after_full_gc_bytes');
  return (await metric.get()).values[0]?.value ?? NaN;
}

describe('/metrics: the heap after a full collection', () => {
  const gc = collector();

  it('is 0 before a full collection, and the heap in use after one, not the garbage before it', async () => {
    const metrics = createMetrics();
    gc({ type: 'minor' });
    // The young-generation collection is reported too; it leaves the figure alone.
    await sleep(200);
    expect(await heapAfterFullGc(metrics), 'after a young-generation collection only').to.equal(0);

    // 40 MB of garbage: in the heap until a full collection, never in what it leaves.
    let garbage: unknown[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i, text: `garbage ${i}`.repeat(10) }));
    const withGarbage = v8.getHeapStatistics().used_heap_size;
    garbage = undefined;
    expect(garbage).to.equal(undefined);
    gc();
    const afterCollection = v8.getHeapStatistics().used_heap_size;
    const value = await reported(metrics, 0);
    expect(value).to.be.greaterThan(0);
    expect(value, 'the garbage is not counted').to.be.below(withGarbage - 20e6);
    expect(Math.abs(value - afterCollection), 'read right after the collection').to.be.below(5e6);
  });
});
