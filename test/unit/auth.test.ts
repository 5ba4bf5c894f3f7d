import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { displayName, sessionEnd, verifyJwt, type JwtSecret } from '../../src/auth/index.js';
import type { UserRow } from '../../src/db/index.js';

const now = () => Math.floor(Date.now() / 1000);
const configSecret: JwtSecret = { kind: 'config', secret: 'config-secret-0123456789', leewaySec: 0, checkJti: false };
const tp32: JwtSecret = {
  kind: 'teampass_3_2',
  secret: 'api-jwt-secret-abcdef',
  audience: 'teampass-api',
  issuers: ['https://tp.example.test', 'https://tp.example.test/'],
  leewaySec: 60,
  checkJti: true,
};

function sign(payload: Record<string, unknown>, secret: string, options: jwt.SignOptions = {}): string {
  return jwt.sign(payload, secret, { algorithm: 'HS256', ...options });
}

describe('auth: JWT verification', () => {
  it('accepts TeamPass API tokens (claim id) and standard ones (claim sub)', () => {
    const a = verifyJwt(sign({ id: 7, exp: now() + 60 }, configSecret.secret), [configSecret]);
    expect(a).to.deep.include({ ok: true });
    if (a.ok) expect(a.claims.userId).to.equal(7);
    const b = verifyJwt(sign({ sub: '8', exp: now() + 60 }, configSecret.secret), [configSecret]);
    expect(b.ok && b.claims.userId).to.equal(8);
  });

  it('prefers id over sub', () => {
    const r = verifyJwt(sign({ id: 3, sub: 'someone', exp: now() + 60 }, configSecret.secret), [configSecret]);
    expect(r.ok && r.claims.userId).to.equal(3);
  });

  it('refuses alg none, even unsigned', () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ id: 1, exp: now() + 60 })).toString('base64url');
    expect(verifyJwt(`${header}.${body}.`, [configSecret])).to.deep.include({ ok: false, reason: 'jwt_alg_refused' });
  });

  it('refuses RS256', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const token = jwt.sign({ id: 1, exp: now() + 60 }, privateKey, { algorithm: 'RS256' });
    expect(verifyJwt(token, [configSecret])).to.deep.include({ ok: false, reason: 'jwt_alg_refused' });
  });

  it('refuses HS384 and HS512', () => {
    for (const algorithm of ['HS384', 'HS512'] as const) {
      const token = jwt.sign({ id: 1, exp: now() + 60 }, configSecret.secret, { algorithm });
      expect(verifyJwt(token, [configSecret])).to.deep.include({ ok: false, reason: 'jwt_alg_refused' });
    }
  });

  it('refuses a wrong signature and says when no secret is configured', () => {
    expect(verifyJwt(sign({ id: 1, exp: now() + 60 }, 'other'), [configSecret])).to.deep.include({ ok: false, reason: 'jwt_bad_signature' });
    expect(verifyJwt(sign({ id: 1, exp: now() + 60 }, 'other'), [])).to.deep.include({ ok: false, reason: 'jwt_no_secret' });
  });

  it('tries every secret: the one that signed decides', () => {
    const token = sign({ id: 4, exp: now() + 60, aud: 'teampass-api', iss: 'https://tp.example.test', jti: 'j1' }, tp32.secret);
    const r = verifyJwt(token, [configSecret, tp32]);
    expect(r.ok && r.secret.kind).to.equal('teampass_3_2');
  });

  it('checks aud, iss and jti for TeamPass 3.2 tokens', () => {
    const good = { id: 4, exp: now() + 60, aud: 'teampass-api', iss: 'https://tp.example.test', jti: 'j1' };
    expect(verifyJwt(sign(good, tp32.secret), [tp32])).to.deep.include({ ok: true });
    expect(verifyJwt(sign({ ...good, iss: 'https://tp.example.test/' }, tp32.secret), [tp32])).to.deep.include({ ok: true });
    expect(verifyJwt(sign({ ...good, aud: 'other' }, tp32.secret), [tp32])).to.deep.include({ ok: false, reason: 'jwt_bad_audience' });
    expect(verifyJwt(sign({ ...good, iss: 'https://evil.example' }, tp32.secret), [tp32])).to.deep.include({ ok: false, reason: 'jwt_bad_issuer' });
    expect(verifyJwt(sign({ ...good, jti: undefined }, tp32.secret), [tp32])).to.deep.include({ ok: false, reason: 'jwt_bad_claims' });
  });

  it('allows 60 s of clock skew for TeamPass 3.2 tokens only', () => {
    const exp = now() - 30;
    expect(verifyJwt(sign({ id: 4, exp, aud: 'teampass-api', iss: 'https://tp.example.test', jti: 'j' }, tp32.secret), [tp32])).to.deep.include({ ok: true });
    expect(verifyJwt(sign({ id: 4, exp }, configSecret.secret), [configSecret])).to.deep.include({ ok: false, reason: 'jwt_expired' });
  });

  it('requires a user and an exp', () => {
    expect(verifyJwt(sign({ exp: now() + 60 }, configSecret.secret), [configSecret])).to.deep.include({ ok: false, reason: 'jwt_bad_claims' });
    expect(verifyJwt(sign({ id: 'abc', exp: now() + 60 }, configSecret.secret), [configSecret])).to.deep.include({ ok: false, reason: 'jwt_bad_claims' });
    expect(verifyJwt(sign({ id: 1 }, configSecret.secret), [configSecret])).to.deep.include({ ok: false, reason: 'jwt_bad_claims' });
  });

  it('reads allowed_folders as a comma list or an array', () => {
    const a = verifyJwt(sign({ id: 1, exp: now() + 60, allowed_folders: '3,4, 5' }, configSecret.secret), [configSecret]);
    expect(a.ok && [...(a.claims.allowedFolders ?? [])]).to.deep.equal([3, 4, 5]);
    const b = verifyJwt(sign({ id: 1, exp: now() + 60, allowed_folders: [6, '7'] }, configSecret.secret), [configSecret]);
    expect(b.ok && [...(b.claims.allowedFolders ?? [])]).to.deep.equal([6, 7]);
    const c = verifyJwt(sign({ id: 1, exp: now() + 60 }, configSecret.secret), [configSecret]);
    expect(c.ok && c.claims.allowedFolders).to.equal(null);
    const d = verifyJwt(sign({ id: 1, exp: now() + 60, allowed_folders: [{}] }, configSecret.secret), [configSecret]);
    expect(d).to.deep.include({ ok: false, reason: 'jwt_bad_claims' });
  });

  it('calls anything else malformed', () => {
    expect(verifyJwt('not-a-jwt', [configSecret])).to.deep.include({ ok: false, reason: 'jwt_malformed' });
    expect(verifyJwt('a.b.c', [configSecret])).to.deep.include({ ok: false, reason: 'jwt_malformed' });
  });
});

describe('auth: session validity', () => {
  const user = (o: Partial<UserRow> = {}): UserRow => ({
    id: 1,
    login: 'alice',
    name: null,
    lastname: null,
    admin: 0,
    gestionnaire: 0,
    disabled: 0,
    personal_folder: 0,
    key_tempo: 'k1',
    session_end: String(now() + 100),
    deleted_at: null,
    ...o,
  });
  const browser = { method: 'ws_token' as const, keyTempo: 'k1' };

  it('accepts a live session', () => {
    expect(sessionEnd(user(), browser, now())).to.equal(null);
  });

  it('names each way a session ends', () => {
    expect(sessionEnd(undefined, browser, now())).to.equal('account_deleted');
    expect(sessionEnd(user({ deleted_at: '1700000000' }), browser, now())).to.equal('account_deleted');
    expect(sessionEnd(user({ disabled: 1 }), browser, now())).to.equal('account_disabled');
    expect(sessionEnd(user({ key_tempo: '' }), browser, now())).to.equal('logged_out');
    expect(sessionEnd(user({ key_tempo: null }), browser, now())).to.equal('logged_out');
    expect(sessionEnd(user({ key_tempo: 'k2' }), browser, now())).to.equal('session_replaced');
    expect(sessionEnd(user({ session_end: String(now() - 1) }), browser, now())).to.equal('session_timeout');
    expect(sessionEnd(user({ session_end: null }), browser, now())).to.equal('session_timeout');
  });

  it('does not hold an API connection to a browser session', () => {
    const api = { method: 'jwt' as const, keyTempo: null };
    expect(sessionEnd(user({ key_tempo: '', session_end: null }), api, now())).to.equal(null);
    expect(sessionEnd(user({ disabled: 1 }), api, now())).to.equal('account_disabled');
  });

  it("builds TeamPass's display name", () => {
    expect(displayName(' Alice ', 'Martin', 'alice')).to.equal('Alice Martin');
    expect(displayName('', '  ', 'alice')).to.equal('alice');
    expect(displayName(null, 'Martin', 'alice')).to.equal('Martin');
  });
});
