import { expect } from 'chai';
import v8 from 'node:v8';
import { clientInfo } from '../../src/server/client-socket.js';

/** V8's own answer to "do these two objects share a hidden class?" (natives syntax, enabled for this check only). */
function sameHiddenClass(): (a: object, b: object) => boolean {
  v8.setFlagsFromString('--allow-natives-syntax');
  const check = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
  v8.setFlagsFromString('--no-allow-natives-syntax');
  return check;
}

describe('client info kept per connection', () => {
  it('is one hidden class for every client, however many connect (no per-connection shape)', () => {
    const same = sameHiddenClass();
    // Addresses as clientAddress makes them, from a direct peer and through a proxy, alternating.
    const infos = Array.from({ length: 3000 }, (_, i) =>
      clientInfo(i % 2 ? { ip: `192.0.2.${i % 250}`, viaTrustedProxy: false } : { ip: `2001:db8::${i}`, viaTrustedProxy: true }, i % 3 ? `agent ${i}` : undefined),
    );
    expect(infos[2997]).to.deep.equal({ ip: '192.0.2.247', userAgent: '', viaTrustedProxy: false });
    expect(infos[2]).to.deep.equal({ ip: '2001:db8::2', userAgent: 'agent 2', viaTrustedProxy: true });
    for (const i of [1, 1000, 2000, 2999]) expect(same(infos[0]!, infos[i]!), `client ${i}`).to.equal(true);
  });
});
