import { expect } from 'chai';
import { BenchInputError } from '../bench/env-options.js';
import { floors, kibPerMin, leastSquaresSlope, type MemorySample } from '../bench/soak-memory.js';
import { soakOptionsFromEnv } from '../bench/soak-options.js';

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
