import { expect } from 'chai';
import { findGaps, GapTracker } from '../../src/bridge/gap-tracker.js';
import { LateCommitWatch } from '../../src/bridge/late-commits.js';

describe('bridge: gap bookkeeping', () => {
  it('finds the missing ids between the cursor and the rows read', () => {
    expect(findGaps(10, [11, 12, 13])).to.deep.equal([]);
    expect(findGaps(10, [12, 13, 16])).to.deep.equal([
      { from: 11, to: 11 },
      { from: 14, to: 15 },
    ]);
    expect(findGaps(10, [])).to.deep.equal([]);
  });

  it('keeps the age of the oldest missing id when a gap shrinks or splits', () => {
    const tracker = new GapTracker();
    tracker.observe([{ from: 11, to: 14 }], 15, 1_000);
    // 12 committed: the gap split into 11 and 13-14, both as old as before.
    tracker.observe(
      [
        { from: 11, to: 11 },
        { from: 13, to: 14 },
      ],
      15,
      1_500,
    );
    expect(tracker.ageMs({ from: 11, to: 11 }, 2_000)).to.equal(1_000);
    expect(tracker.ageMs({ from: 13, to: 14 }, 2_000)).to.equal(1_000);
    // A new gap further on starts its own clock.
    tracker.observe([{ from: 20, to: 20 }], 21, 3_000);
    expect(tracker.ageMs({ from: 20, to: 20 }, 3_500)).to.equal(500);
    expect(tracker.size).to.equal(1);
  });

  it('remembers gaps beyond a full batch and forgets resolved ids', () => {
    const tracker = new GapTracker();
    tracker.observe([{ from: 50, to: 50 }], 60, 0);
    // A later read stopped at id 30: the gap at 50 was not visible, but is not filled either.
    tracker.observe([], 30, 100);
    expect(tracker.ageMs({ from: 50, to: 50 }, 200)).to.equal(200);
    tracker.resolvedUpTo(50);
    expect(tracker.size).to.equal(0);
    expect(tracker.ageMs({ from: 50, to: 50 }, 300)).to.equal(0);
  });

  it('watches given-up ids for a while, and stops watching each one that shows up', () => {
    const watch = new LateCommitWatch();
    watch.add({ from: 5, to: 8 }, 0, 1_000);
    watch.found(6);
    expect(watch.active(500)).to.deep.equal([
      { from: 5, to: 5 },
      { from: 7, to: 8 },
    ]);
    expect(watch.active(1_000)).to.deep.equal([]);
  });
});
