import { expect } from 'chai';
import { UpgradeQueue } from '../../src/server/upgrade-queue.js';

/** Keeps the thread busy for `ms`, as a burst of upgrades does. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spinning on purpose
  }
}

const drained = (queue: UpgradeQueue) =>
  new Promise<void>((resolve) => {
    const check = () => (queue.size === 0 ? resolve() : setImmediate(check));
    setImmediate(check);
  });

describe('UpgradeQueue', () => {
  it('runs the upgrades in arrival order, after the turn that queued them', async () => {
    const queue = new UpgradeQueue(() => undefined);
    const ran: number[] = [];
    for (let i = 0; i < 5; i += 1) queue.add(() => ran.push(i));
    expect(ran, 'nothing runs inside the read that queued them').to.deep.equal([]);
    await drained(queue);
    expect(ran).to.deep.equal([0, 1, 2, 3, 4]);
  });

  it('gives the event loop back once a slice is used up: a timer due meanwhile runs before the next upgrade', async () => {
    const queue = new UpgradeQueue(() => undefined, 5);
    const order: string[] = [];
    queue.add(() => {
      order.push('first');
      setTimeout(() => order.push('timer'), 0);
      busy(20);
    });
    queue.add(() => order.push('second'));
    await drained(queue);
    await new Promise((r) => setTimeout(r, 5));
    expect(order).to.deep.equal(['first', 'timer', 'second']);
  });

  it('runs many quick upgrades in one slice', async () => {
    const queue = new UpgradeQueue(() => undefined, 50);
    const order: string[] = [];
    queue.add(() => setTimeout(() => order.push('timer'), 0));
    for (let i = 0; i < 100; i += 1) queue.add(() => order.push('upgrade'));
    await drained(queue);
    await new Promise((r) => setTimeout(r, 5));
    expect(order.indexOf('timer'), 'all 100 ran before the loop went on').to.equal(100);
  });

  it('reports an upgrade that throws and goes on with the next', async () => {
    const failures: string[] = [];
    const queue = new UpgradeQueue((err) => failures.push((err as Error).message));
    const ran: string[] = [];
    queue.add(() => {
      throw new Error('bad socket');
    });
    queue.add(() => ran.push('next'));
    await drained(queue);
    expect(failures).to.deep.equal(['bad socket']);
    expect(ran).to.deep.equal(['next']);
  });

  it('runs everything queued at once on flush (shutdown), and nothing twice', async () => {
    const queue = new UpgradeQueue(() => undefined, 1);
    const ran: number[] = [];
    for (let i = 0; i < 3; i += 1) queue.add(() => ran.push(i));
    queue.flush();
    expect(ran).to.deep.equal([0, 1, 2]);
    expect(queue.size).to.equal(0);
    await new Promise((r) => setImmediate(r));
    expect(ran).to.deep.equal([0, 1, 2]);
  });
});
