import { expect } from 'chai';
import { benchOptionsFromEnv } from '../bench/bench-options.js';
import { BenchInputError } from '../bench/env-options.js';
import { LatencyHistogram } from '../bench/latency-histogram.js';
import { foldersOf } from '../bench/load-messages.js';

describe('npm run bench: settings', () => {
  it('measures 15,000 clients over 3 rounds with 1,000,000 retained rows when nothing is set', () => {
    const o = benchOptionsFromEnv({});
    expect(o).to.include({ connections: 15_000, rounds: 3, workers: 2, loadSeconds: 10, idleSeconds: 30, idleRecentRows: 100_000, idleOldRows: 1_000_000, quick: false });
  });

  it('takes a quick run from TEAMPASS_WS_BENCH_QUICK=1, each size still settable', () => {
    expect(benchOptionsFromEnv({ TEAMPASS_WS_BENCH_QUICK: '1' })).to.include({ connections: 1_000, rounds: 2, quick: true });
    expect(benchOptionsFromEnv({ TEAMPASS_WS_BENCH_QUICK: '1', TEAMPASS_WS_BENCH_CONNECTIONS: '2000' }).connections).to.equal(2000);
  });

  for (const [name, value] of [
    ['TEAMPASS_WS_BENCH_CONNECTIONS', '20000'],
    ['TEAMPASS_WS_BENCH_CONNECTIONS', '15k'],
    ['TEAMPASS_WS_BENCH_ROUNDS', '0'],
    ['TEAMPASS_WS_BENCH_QUICK', 'yes'],
  ] as const) {
    it(`refuses ${name}=${value} in one line that says what to give`, () => {
      expect(() => benchOptionsFromEnv({ [name]: value }))
        .to.throw(BenchInputError)
        .with.property('message')
        .that.matches(new RegExp(`^${name}=${value} is not usable: give a whole number from \\d+ to \\d+ \\(.+\\), or unset it for \\d+\\.$`));
    });
  }
});

describe('npm run bench: what the load workers count', () => {
  it('spreads 3 subscriptions per client evenly over 30 folders', () => {
    const folders = Array.from({ length: 30 }, (_, i) => 100 + i);
    const by = new Map<number, number>();
    for (let i = 0; i < 15_000; i += 1) {
      const mine = foldersOf(folders, 3, i);
      expect(new Set(mine).size).to.equal(3);
      for (const f of mine) by.set(f, (by.get(f) ?? 0) + 1);
    }
    expect([...by.values()]).to.deep.equal(Array(30).fill(1500));
  });

  it('reads percentiles from the merged histograms within 2 %', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (let v = 1; v <= 1000; v += 1) (v % 2 ? a : b).add(v);
    a.merge(b.entries());
    expect(a.total).to.equal(1000);
    expect(a.percentile(0.5)).to.be.within(500, 510);
    expect(a.percentile(0.99)).to.be.within(990, 1010);
  });
});
