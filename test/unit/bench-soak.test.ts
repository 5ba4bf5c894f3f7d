import { expect } from 'chai';
import { BenchInputError } from '../bench/env-options.js';
import { floors, kibPerMin, leastSquaresSlope, type MemorySample } from '../bench/soak-memory.js';
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
  const sample = (atSec: number, heapUsed: number): MemorySample => ({ atSec, rss: heapUsed, heapUsed, heapTotal: heapUsed, external: 0 });

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
    live: 10, eventFrames: 100, reconnects: 0, reconnectFailures: 0, failureReasons: {}, slowCloses: {}, serverCloses: {},
    clients: 10, expected: 100, delivered: 100, lost: 0, duplicates: 0, unexpected: 0, outOfOrder: 0, notRecovered: 0, examples: [],
  };
  /** Ten minutes every 2 s: the committed heap saws between 200 and 270 MB, rising over the run as a collector may. */
  const run = (outsideGrowthPerSec: number) =>
    soakReport({
      o,
      samples: Array.from({ length: 300 }, (_, i): MemorySample => {
        const atSec = i * 2;
        const heapTotal = 200e6 + (atSec % 120) * 0.5e6 + atSec * 0.05e6;
        return { atSec, heapTotal, rss: heapTotal + 100e6 + outsideGrowthPerSec * atSec, heapUsed: 120e6 + (atSec % 60) * 1e6, external: 5e6 };
      }),
      unanswered: { count: 0, first: undefined },
      tally,
      liveAfterQuiesce: 10,
      reachedEnd: 10,
      events: { small: 90, broadcasts: 5, bulk: 5 },
      resources: { before: resources, atStart: resources, atEnd: resources, after: resources },
    });

  it('passes a collector sawtooth whose committed heap grows, printing the RSS slope without judging it', () => {
    const { passed, lines } = run(0);
    expect(passed, lines.join('\n')).to.equal(true);
    expect(lines.join('\n')).to.match(/least-squares slope \(not judged\)\s+\+\d/);
  });

  it('fails when the memory outside the V8 heap grows', () => {
    const { passed, lines } = run(50 * 1024);
    expect(passed).to.equal(false);
    expect(lines[lines.length - 1]).to.match(/RSS outside the V8 heap grew \+3000\.0 KiB\/min/);
  });
});
