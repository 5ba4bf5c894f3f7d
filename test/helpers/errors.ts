import { expect } from 'chai';
import { TeampassWsError } from '../../src/errors.js';

/** The TeampassWsError `fn` throws; fails the test when it throws nothing or something else. */
export function thrown(fn: () => unknown): TeampassWsError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(TeampassWsError);
    return err as TeampassWsError;
  }
  expect.fail('expected a TeampassWsError');
}

/** The TeampassWsError `promise` rejects with. */
export async function rejection(promise: Promise<unknown>): Promise<TeampassWsError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(TeampassWsError);
    return err as TeampassWsError;
  }
  expect.fail('expected a TeampassWsError');
}
