import { expect } from 'chai';
import { BenchInputError } from '../bench/env-options.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEachFullGc, floors, kibPerMin, leastSquaresSlope, medianSlope, samplesCsv, slopeBeside, startSamplesFile, type MemorySample } from '../bench/soak-memory.js';
import { soakOptionsFromEnv } from '../bench/soak-options.js';
import { soakReport, type DaemonResources } from '../bench/soak-report.js';
import type { SoakTally } from '../bench/load-messages.js';

describe('npm run soak: settings', () => {
  it('runs 15,000 connections for 10 minutes with a 2 minute warm-up when nothing is set', () => {
    const o = soakOptionsFromEnv({});
    expect(o).to.include({ connections: 15_000, durationSec: 600, warmupSec: 120, workers: 2 });
  });

  it('takes small runs from the environment, the warm-up a fifth of a short run', () => {
    const o = soakOptionsFromEnv({ TEAMPASS_WS_SOAK_CONNECTIONS: '1000', TEAMPASS_WS_SOAK_SECONDS: '60' });
    expect(o).to.include({ connections: 1000, durationSec: 60, warmupSec: 12 });
  });

  const refusals: Array<[string, Record<string, string>, string]> = [
    ['a word for a number', { TEAMPASS_WS_SOAK_CONNECTIONS: 'many' }, 'TEAMPASS_WS_SOAK_CONNECTIONS=many is not usable: give a whole number from 1 to 19000'],
    ['more connections than one daemon may open', { TEAMPASS_WS_SOAK_CONNECTIONS: '20000' }, 'from 1 to 19000'],
    ['a warm-up that leaves nothing to measure', { TEAMPASS_WS_SOAK_SECONDS: '60', TEAMPASS_WS_SOAK_WARMUP_SECONDS: '50' }, 'TEAMPASS_WS_SOAK_WARMUP_SECONDS=50 is not usable: give a whole number from 0 to 40'],
    ['too few workers for the connections', { TEAMPASS_WS_SOAK_CONNECTIONS: '19000', TEAMPASS_WS_SOAK_WORKERS: '2' }, 'TEAMPASS_WS_SOAK_WORKERS=2 is not usable: give a whole number from 3 to 8'],
    ['a fraction', { TEAMPASS_WS_SOAK_CHURN_PERCENT: '0.5' }, 'TEAMPASS_WS_SOAK_CHURN_PERCENT=0.5 is not usable'],
  ];
  for (const [what, env, message] of refusals) {
    it(`refuses ${what} in one line that says what to give`, () => {
      let thrown: unknown;
      try {
        soakOptionsFromEnv(env);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).to.be.instanceOf(BenchInputError);
      const text = (thrown as Error).message;
      expect(text).to.contain(message);
      expect(text).to.not.contain('\n');
    });
  }
});

describe('npm run soak: memory slope', () => {
  const sample = (atSec: number, heapUsed: number): MemorySample => ({ atSec, rss: heapUsed, heapUsed, heapTotal: heapUsed, external: 0, heapAfterFullGc: 0, fullCollections: 0 });

  it('gives the least-squares slope in KiB per minute', () => {
    const points: Array<[number, number]> = [0, 60, 120, 180].map((t) => [t, 1_000_000 + (t / 60) * 10 * 1024]);
    expect(kibPerMin(leastSquaresSlope(points))).to.be.closeTo(10, 1e-9);
    expect(leastSquaresSlope([[5, 1]])).to.equal(0);
  });

  it('sees a floor that stays flat under a collector sawtooth, and one that rises', () => {
    // Heap climbs 50 MB in each 10 s cycle, then a collection drops it back to the floor.
    const saw = (floorGrowthPerSec: number) => Array.from({ length: 300 }, (_, t) => sample(t, 100e6 + floorGrowthPerSec * t + (t % 10) * 5e6));
    const flat = saw(0);
    expect(kibPerMin(leastSquaresSlope(floors(flat, 30, (s) => s.heapUsed)))).to.equal(0);
    const leaking = saw(1024);
    expect(kibPerMin(leastSquaresSlope(floors(leaking, 30, (s) => s.heapUsed)))).to.be.closeTo(60, 0.5);
  });
});

describe('npm run soak: the memory verdict', () => {
  const o = soakOptionsFromEnv({ TEAMPASS_WS_SOAK_SECONDS: '600' });
  const resources: DaemonResources = { fds: 26, timers: 3, handles: 10, connections: 0, rss: 90e6, slowConsumerCloses: 0 };
  const tally: SoakTally = {
    live: 10, eventFrames: 100, reconnects: 0, reconnectFailures: 0, failureReasons: {}, slowCloses: {}, slowUnread: 0, serverCloses: {},
    clients: 10, expected: 100, delivered: 100, lost: 0, duplicates: 0, unexpected: 0, outOfOrder: 0, notRecovered: 0, examples: [],
  };
  /**
   * Ten minutes every 2 s. The heap used saws from the live heap up by 60 MB and back once a minute
   * (a full collection at each drop); the committed heap saws between 200 and 270 MB, rising over
   * the run as a collector may. With `peaks`, two cycles climb higher (at 300 s and 450 s) and the
   * memory outside the heap steps up by a third of each new peak, as malloc keeps the collector's
   * larger bookkeeping.
   */
  const run = (o2: { outsideGrowthPerSec?: number; liveGrowthPerSec?: number; peaks?: boolean; collections?: number }) =>
    soakReport({
      o,
      samples: (() => {
        let peak = 0;
        return Array.from({ length: 300 }, (_, i): MemorySample => {
          const atSec = i * 2;
          const cycle = Math.floor(atSec / 60);
          const live = 100e6 + (o2.liveGrowthPerSec ?? 0) * cycle * 60 + (cycle % 2) * 0.3e6;
          const extra = o2.peaks && cycle === 5 ? 40e6 : o2.peaks && cycle === 7 ? 70e6 : 0;
          const heapUsed = live + ((atSec % 60) / 60) * (60e6 + extra);
          if (atSec >= o.warmupSec) peak = Math.max(peak, heapUsed);
          const heapTotal = 200e6 + (atSec % 120) * 0.5e6 + atSec * 0.05e6;
          const outside = 100e6 + (o2.peaks ? peak / 3 : 0) + (o2.outsideGrowthPerSec ?? 0) * atSec;
          const fullCollections = Math.min(cycle, o2.collections ?? cycle);
          return { atSec, heapTotal, rss: heapTotal + outside, heapUsed, external: 5e6, heapAfterFullGc: fullCollections > 0 ? live : 0, fullCollections };
        });
      })(),
      unanswered: { count: 0, first: undefined },
      tally,
      liveAfterQuiesce: 10,
      reachedEnd: 10,
      events: { small: 90, broadcasts: 5, bulk: 5 },
      resources: { before: resources, atStart: resources, atEnd: resources, after: resources },
    });

  it('passes a collector sawtooth whose committed heap grows, printing the RSS slope without judging it', () => {
    const { passed, lines } = run({});
    expect(passed, lines.join('\n')).to.equal(true);
    expect(lines.join('\n')).to.match(/least-squares slope \(not judged\)\s+\+\d/);
  });

  it('passes memory outside the heap that steps up with new heap peaks and stays flat between them', () => {
    const { passed, lines } = run({ peaks: true });
    expect(passed, lines.join('\n')).to.equal(true);
    // The plain slope over the run is well above the bound; it is printed, not judged.
    expect(lines.join('\n')).to.match(/outside the V8 heap \(RSS − committed\).*slope \+[3-9]\d{3}\.\d KiB\/min \(not judged\)/);
    expect(lines.join('\n')).to.match(/with time, beside the heap's peaks\s+[+-]\d+\.\d KiB\/min \(bound 2048 KiB\/min\); 0\.33 MiB per MiB/);
  });

  it('fails when the memory outside the V8 heap grows with time, with or without heap peaks', () => {
    for (const peaks of [false, true]) {
      const { passed, lines } = run({ outsideGrowthPerSec: 50 * 1024, peaks });
      expect(passed, `peaks: ${peaks}`).to.equal(false);
      expect(lines[lines.length - 1]).to.match(/RSS outside the V8 heap grew \+3000\.0 KiB\/min with time/);
    }
  });

  it('fails when the heap after each full collection grows, however the sawtooth hides it', () => {
    const { passed, lines } = run({ liveGrowthPerSec: 30 * 1024 });
    expect(passed).to.equal(false);
    expect(lines[lines.length - 1]).to.match(/heap after each full collection grew \+1800\.0 KiB\/min/);
  });

  it("fails when too few full collections followed the warm-up to tell the heap's trend", () => {
    const { passed, lines } = run({ collections: 3 });
    expect(passed).to.equal(false);
    expect(lines[lines.length - 1]).to.match(/only 1 full collections after the warm-up/);
  });
});

describe('npm run soak: trends', () => {
  it('takes out of a slope the part that follows a second figure', () => {
    // y rises 2 per unit of x and 0.5 per unit of z; z jumps twice.
    const points: Array<[number, number, number]> = Array.from({ length: 100 }, (_, x) => {
      const z = x < 30 ? 0 : x < 70 ? 40 : 100;
      return [x, z, 7 + 2 * x + 0.5 * z];
    });
    const fit = slopeBeside(points);
    expect(fit.slope).to.be.closeTo(2, 1e-9);
    expect(fit.perZ).to.be.closeTo(0.5, 1e-9);
    // A second figure that never moves explains nothing: the plain slope.
    expect(slopeBeside(points.map(([x, , y]) => [x, 3, y])).slope).to.be.closeTo(leastSquaresSlope(points.map(([x, , y]) => [x, y])), 1e-9);
  });

  it('gives the median of pairwise slopes: a steady rise in full, one point off the line hardly at all', () => {
    const line: Array<[number, number]> = Array.from({ length: 10 }, (_, i) => [i * 50, 90e6 + i * 50 * 1000]);
    expect(medianSlope(line)).to.be.closeTo(1000, 1e-9);
    const flat: Array<[number, number]> = Array.from({ length: 10 }, (_, i) => [i * 50, 90e6 + (i % 2) * 1e6]);
    expect(medianSlope(flat)).to.equal(0);
    // One collection during a burst, near the end: least squares follows it, the median does not.
    const burst = flat.map(([t, v], i): [number, number] => [t, i === 8 ? v + 25e6 : v]);
    expect(kibPerMin(leastSquaresSlope(burst))).to.be.above(1024);
    expect(kibPerMin(medianSlope(burst))).to.be.below(100);
    expect(medianSlope([[5, 1]])).to.equal(0);
  });

  it('takes the heap after a full collection once per collection a sample saw', () => {
    const at = (atSec: number, fullCollections: number, heapAfterFullGc: number): MemorySample => ({ atSec, rss: 0, heapUsed: 0, heapTotal: 0, external: 0, heapAfterFullGc, fullCollections });
    expect(afterEachFullGc([at(0, 4, 90), at(2, 4, 90), at(4, 5, 91), at(6, 5, 91), at(8, 7, 91), at(10, 7, 91)])).to.deep.equal([
      [4, 91],
      [8, 91],
    ]);
  });
});

describe('npm run soak: the samples file', () => {
  it('writes a header first and the samples as CSV; a path that cannot be written stops it before it runs', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'soak-samples-'));
    try {
      const file = path.join(dir, 'memory.csv');
      startSamplesFile(file);
      expect(readFileSync(file, 'utf8')).to.equal('atSec,rss,heapTotal,heapUsed,external,heapAfterFullGc,fullCollections\n');
      expect(samplesCsv([{ atSec: 2, rss: 300, heapTotal: 200, heapUsed: 150, external: 5, heapAfterFullGc: 100, fullCollections: 1 }])).to.equal('2,300,200,150,5,100,1\n');
      const missing = path.join(dir, 'no-such-dir', 'memory.csv');
      expect(() => startSamplesFile(missing)).to.throw(BenchInputError, `TEAMPASS_WS_SOAK_SAMPLES=${missing} cannot be written`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
