import { expect } from 'chai';
import { reconnectDelay } from '../../src/client/backoff.js';
import { EventCursor } from '../../src/client/event-cursor.js';
import { socketUrl } from '../../src/client/socket-url.js';

describe('browser client: backoff, cursor and URL', () => {
  const policy = { baseMs: 3000, maxMs: 30_000, jitter: 0.3 };

  it("follows TeamPass's schedule 3000·1.5^(n-1) capped at 30 s when the jitter draws nothing", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => reconnectDelay(n, policy, () => 0));
    expect(delays).to.deep.equal([3000, 4500, 6750, 10125, 15188, 22781, 30000, 30000, 30000, 30000]);
  });

  it('takes at most the jitter share off each delay and never exceeds the cap', () => {
    expect(reconnectDelay(1, policy, () => 1)).to.equal(2100);
    expect(reconnectDelay(10, policy, () => 1)).to.equal(21_000);
    for (let i = 0; i < 200; i++) {
      const d = reconnectDelay(8, policy, Math.random);
      expect(d).to.be.within(21_000, 30_000);
    }
  });

  it('resumes from the settled watermark, not from the highest id seen, and dispatches each id once', () => {
    const cursor = new EventCursor(4);
    expect([5, 7, 5, 8].map((id) => cursor.accept(id))).to.deep.equal([true, true, false, true]);
    // 6 is still on its way (another channel's replay, or a late commit): the resume point stays.
    expect(cursor.last).to.equal(4);
    expect(cursor.accept(6)).to.equal(true);
    cursor.settle(8);
    expect(cursor.last).to.equal(8);
    expect(cursor.pending).to.equal(0);
    expect([7, 8, 3].map((id) => cursor.accept(id))).to.deep.equal([false, false, false]);
    cursor.settle(2);
    expect(cursor.last, 'never backwards').to.equal(8);
  });

  it('takes the starting point only when it knows nothing yet', () => {
    const fresh = new EventCursor();
    fresh.startAt(40);
    expect(fresh.last).to.equal(40);
    fresh.startAt(10);
    expect(fresh.last).to.equal(40);
    const resumed = new EventCursor(12);
    resumed.startAt(50);
    expect(resumed.last).to.equal(12);
    expect(resumed.accept(12)).to.equal(false);
    expect(resumed.accept(13)).to.equal(true);
  });

  it('puts the credentials and the resume point in the URL, replacing stale ones', () => {
    expect(socketUrl('ws://h:8080/ws', 'abc', null)).to.equal('ws://h:8080/ws?token=abc');
    expect(socketUrl('ws://h/ws?x=1&token=old&since=3', 'new', 42)).to.equal('ws://h/ws?x=1&token=new&since=42');
    expect(socketUrl('wss://h/ws', null, 0)).to.equal('wss://h/ws?since=0');
    expect(socketUrl('ws://h/', 'a b', null)).to.equal('ws://h/?token=a%20b');
  });
});
