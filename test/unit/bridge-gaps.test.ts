import { expect } from 'chai';
import { MissingIds } from '../../src/bridge/gap-tracker.js';

describe('bridge: missing-id bookkeeping', () => {
  it('keeps the age of a run when some of its ids show up and it splits', () => {
    const missing = new MissingIds();
    missing.add({ from: 20, to: 21 }, 2_000);
    missing.add({ from: 11, to: 14 }, 1_000);
    expect(missing.first).to.equal(11);
    missing.remove(12);
    expect(missing.list()).to.deep.equal([
      { from: 11, to: 11, since: 1_000 },
      { from: 13, to: 14, since: 1_000 },
      { from: 20, to: 21, since: 2_000 },
    ]);
    missing.remove(11);
    expect(missing.first).to.equal(13);
    missing.drop({ from: 13, to: 14 });
    expect(missing.list(1)).to.deep.equal([{ from: 20, to: 21, since: 2_000 }]);
    missing.remove(20);
    missing.remove(21);
    expect(missing.first).to.equal(undefined);
    expect(missing.size).to.equal(0);
  });
});
