import { expect } from 'chai';
import type { IncomingMessage } from 'node:http';
import { clientAddress, TrustedProxies } from '../../src/server/client-ip.js';
import { FailedAuthLimiter, MessageRateLimiter, RateWindows } from '../../src/server/rate-limit.js';

describe('rate limits', () => {
  describe('messages per connection', () => {
    it('allows rate_limit_messages per window, then refuses until the window ends', () => {
      const limiter = new MessageRateLimiter(3, 1000);
      expect([0, 10, 20, 30, 999].map((t) => limiter.allow(t))).to.deep.equal([true, true, true, false, false]);
      expect(limiter.allow(1000)).to.equal(true);
    });

    it('slides: the limit holds in every window, also across the boundary of the first one', () => {
      const limiter = new MessageRateLimiter(4, 1000);
      const allowed: number[] = [];
      for (const t of [0, 500, 500, 500, 1050, 1050, 1050, 1050, 1499, 1500, 1500, 1500, 1500]) if (limiter.allow(t)) allowed.push(t);
      expect(allowed).to.deep.equal([0, 500, 500, 500, 1050, 1500, 1500, 1500]);
      for (const start of allowed) expect(allowed.filter((t) => t >= start && t < start + 1000).length, `from ${start}`).to.be.at.most(4);
    });

    it('refused messages do not count, and memory stays bounded by the limit whatever the traffic', () => {
      const limiter = new MessageRateLimiter(10, 1000);
      let allowed = 0;
      for (let t = 0; t < 100_000; t++) if (limiter.allow(t)) allowed += 1;
      expect(allowed).to.equal(1000);
      expect(limiter.remembered).to.equal(10);
    });
  });

  describe('the shared pool of message windows', () => {
    it('keeps each connection its own window in one pool, growing it as connections come', () => {
      const windows = new RateWindows(2, 1000, 1);
      const limiters = Array.from({ length: 5 }, () => new MessageRateLimiter(windows));
      expect(windows.inUse, 'no ring before a first message').to.equal(0);
      for (const [i, l] of limiters.entries()) expect([l.allow(i), l.allow(i + 1), l.allow(i + 2)], `connection ${i}`).to.deep.equal([true, true, false]);
      expect(windows.inUse).to.equal(5);
      expect(limiters[0]!.allow(1000), 'the first one\'s window moved on, the others\' times untouched').to.equal(true);
      expect(limiters[4]!.allow(1003)).to.equal(false);
    });

    it('gives a closed connection\'s window to the next one, clean, and allows nothing more on the closed one', () => {
      const windows = new RateWindows(2, 1000, 1);
      const first = new MessageRateLimiter(windows);
      expect([first.allow(0), first.allow(1), first.allow(2)]).to.deep.equal([true, true, false]);
      first.release();
      first.release();
      expect(windows.inUse).to.equal(0);
      expect(first.allow(5000), 'a released limiter allows nothing').to.equal(false);
      expect(windows.inUse, 'and takes no ring again').to.equal(0);
      const next = new MessageRateLimiter(windows);
      expect([next.allow(3), next.allow(4), next.allow(5)], 'the reused ring starts empty').to.deep.equal([true, true, false]);
      expect(windows.inUse).to.equal(1);
    });
  });

  describe('failed authentications per address', () => {
    it('blocks after 10 failures in 60 s, and forgets after the window', () => {
      const limiter = new FailedAuthLimiter();
      for (let i = 0; i < 9; i++) limiter.recordFailure('203.0.113.1', 1000 + i);
      expect(limiter.isBlocked('203.0.113.1', 2000)).to.equal(false);
      limiter.recordFailure('203.0.113.1', 2000);
      expect(limiter.isBlocked('203.0.113.1', 2001)).to.equal(true);
      expect(limiter.isBlocked('203.0.113.2', 2001)).to.equal(false);
      expect(limiter.isBlocked('203.0.113.1', 61_000)).to.equal(false);
    });

    it('exempts loopback addresses', () => {
      const limiter = new FailedAuthLimiter(1);
      for (const ip of ['127.0.0.1', '127.5.5.5', '::1']) {
        limiter.recordFailure(ip, 0);
        limiter.recordFailure(ip, 0);
        expect(limiter.isBlocked(ip, 1), ip).to.equal(false);
      }
      expect(limiter.tracked).to.equal(0);
    });

    it('prunes closed windows', () => {
      const limiter = new FailedAuthLimiter(10, 100);
      for (let i = 0; i < 50; i++) limiter.recordFailure(`198.51.100.${i}`, 0);
      expect(limiter.tracked).to.equal(50);
      limiter.prune(100);
      expect(limiter.tracked).to.equal(0);
    });
  });

  describe('client address', () => {
    const request = (peer: string, xff?: string) => ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;
    const local = new TrustedProxies(['127.0.0.1', '::1']);

    it('uses the peer when it is not a trusted proxy', () => {
      expect(clientAddress(request('203.0.113.5', '1.2.3.4'), local)).to.deep.equal({ ip: '203.0.113.5', viaTrustedProxy: false });
      expect(clientAddress(request('::ffff:203.0.113.5'), local).ip).to.equal('203.0.113.5');
    });

    it('believes X-Forwarded-For from a trusted proxy, right to left past trusted hops', () => {
      expect(clientAddress(request('127.0.0.1', '198.51.100.7'), local)).to.deep.equal({ ip: '198.51.100.7', viaTrustedProxy: true });
      const chain = new TrustedProxies(['127.0.0.1', '10.0.0.0/8']);
      expect(clientAddress(request('127.0.0.1', 'spoofed, 198.51.100.7, 10.1.2.3'), chain).ip).to.equal('198.51.100.7');
      expect(clientAddress(request('::ffff:127.0.0.1', '2001:db8::1'), local).ip).to.equal('2001:db8::1');
    });

    it('takes a hop that is not an address as the (untrusted) client, and keeps the proxy without a header', () => {
      expect(clientAddress(request('127.0.0.1', 'not-an-ip'), local).ip).to.equal('not-an-ip');
      expect(clientAddress(request('127.0.0.1', '198.51.100.7, unknown'), local).ip).to.equal('unknown');
      expect(clientAddress(request('127.0.0.1', 'x'.repeat(100)), local).ip).to.have.length(45);
      expect(clientAddress(request('127.0.0.1'), local).ip).to.equal('127.0.0.1');
    });

    it('reads the address out of a hop with a port or brackets, and writes every address one way', () => {
      expect(clientAddress(request('127.0.0.1', '198.51.100.7:5123'), local).ip).to.equal('198.51.100.7');
      expect(clientAddress(request('127.0.0.1', '[2001:DB8::1]:443'), local).ip).to.equal('2001:db8::1');
      expect(clientAddress(request('127.0.0.1', '::ffff:c633:6407'), local).ip).to.equal('198.51.100.7');
      expect(clientAddress(request('127.0.0.1', '2001:db8:0:0:0:0:0:1'), local).ip).to.equal('2001:db8::1');
      expect(clientAddress(request('::ffff:7f00:1', '198.51.100.7'), local).ip, 'a hex-mapped loopback peer is the trusted proxy').to.equal('198.51.100.7');
    });

    it('trusts nobody with an empty trusted_proxies', () => {
      expect(clientAddress(request('127.0.0.1', '198.51.100.7'), new TrustedProxies([])).ip).to.equal('127.0.0.1');
    });
  });
});
