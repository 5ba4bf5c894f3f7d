import { expect } from 'chai';
import type { IncomingMessage } from 'node:http';
import { OriginPolicy } from '../../src/server/origin.js';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('access: origin policy', () => {
  it('lets requests without Origin through (not a browser)', () => {
    expect(new OriginPolicy(['https://a.example'], () => '').allows(request({}), false)).to.equal(true);
  });

  it('matches allowed_origins as full origins or bare hosts', () => {
    const policy = new OriginPolicy(['https://a.example', 'b.example:8443', 'https://c.example/'], () => 'https://ignored.example');
    expect(policy.allows(request({ origin: 'https://a.example' }), false)).to.equal(true);
    expect(policy.allows(request({ origin: 'http://a.example' }), false)).to.equal(false);
    expect(policy.allows(request({ origin: 'https://b.example:8443' }), false)).to.equal(true);
    expect(policy.allows(request({ origin: 'https://c.example' }), false)).to.equal(true);
    expect(policy.allows(request({ origin: 'https://ignored.example' }), false)).to.equal(false);
    expect(policy.allows(request({ origin: 'null' }), false)).to.equal(false);
  });

  it("falls back to cpassman_url's origin, then to the request's own origin", () => {
    const teampass = new OriginPolicy([], () => 'https://vault.example/teampass/');
    expect(teampass.allows(request({ origin: 'https://vault.example', host: 'other' }), false)).to.equal(true);
    expect(teampass.allows(request({ origin: 'http://vault.example', host: 'other' }), false), 'scheme counts').to.equal(false);
    expect(teampass.allows(request({ origin: 'https://evil.example', host: 'evil.example' }), false), 'https page, plain http request').to.equal(false);
    const host = new OriginPolicy([], () => '');
    expect(host.allows(request({ origin: 'http://127.0.0.1:8080', host: '127.0.0.1:8080' }), false)).to.equal(true);
    expect(host.allows(request({ origin: 'http://evil.example', host: '127.0.0.1:8080' }), false)).to.equal(false);
  });

  it('reads X-Forwarded-Host only from a trusted proxy', () => {
    const policy = new OriginPolicy([], () => '');
    const req = request({ origin: 'https://vault.example', host: '127.0.0.1:8080', 'x-forwarded-host': 'vault.example', 'x-forwarded-proto': 'https' });
    expect(policy.allows(req, true)).to.equal(true);
    expect(policy.allows(req, false)).to.equal(false);
  });

  it('allows anything with "*"', () => {
    expect(new OriginPolicy(['*'], () => '').allows(request({ origin: 'https://x.example' }), false)).to.equal(true);
  });
});
