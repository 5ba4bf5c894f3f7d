import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import jwt from 'jsonwebtoken';
import { MiscSettings } from '../../src/access/index.js';
import { Authenticator, JwtKeyring, createReconnectToken, type TokenMode } from '../../src/auth/index.js';
import type { Database } from '../../src/db/index.js';
import { silentLogger } from '../../src/log/index.js';
import { encryptDefuse, loadDefuseKey, readTeampassSettings, type TeampassSettings } from '../../src/teampass/index.js';
import { forEachBackend } from '../helpers/backends.js';
import { makeTeampassInstall } from '../helpers/teampass-install.js';
import {
  addApiSession,
  issueToken,
  revokeApiSession,
  seedUser,
  setTeampassSetting,
  tokenRow,
} from '../helpers/teampass-fixture.js';
import { useServerSuite } from './server-harness.js';

const now = () => Math.floor(Date.now() / 1000);
const API_SECRET = 'teampass-3.2-api-jwt-secret';
const CPASSMAN_URL = 'https://teampass.example.test';

forEachBackend('authentication: credentials against the database', (backend) => {
  const suite = useServerSuite(backend);
  let db: Database;
  let settings: MiscSettings;

  beforeEach(async () => {
    db = suite.db;
    settings = new MiscSettings(db);
  });

  async function authenticator(o: { mode?: TokenMode; configSecret?: string; teampass?: TeampassSettings } = {}): Promise<Authenticator> {
    await settings.refresh();
    const keyring = new JwtKeyring(settings, o.teampass, o.configSecret ?? '', silentLogger());
    return new Authenticator({ db, tokenMode: o.mode ?? 'reusable', keyring });
  }

  describe('websocket tokens', () => {
    it('accepts a reusable token again and again (TeamPass 3.2)', async () => {
      const user = await seedUser(db, { login: 'alice', name: 'Alice', lastname: 'Martin' });
      const token = await issueToken(db, user.id);
      const auth = await authenticator();
      for (let i = 0; i < 2; i++) {
        const r = await auth.authenticate(token);
        expect(r.ok).to.equal(true);
        if (r.ok) {
          expect(r.identity).to.deep.include({ userId: user.id, login: 'alice', displayName: 'Alice Martin', isAdmin: false, method: 'ws_token', keyTempo: user.keyTempo });
        }
      }
      expect((await tokenRow(db, token))?.used).to.equal(0);
    });

    it('accepts a single-use token once and marks it used (TeamPass 3.1)', async () => {
      const user = await seedUser(db);
      const token = await issueToken(db, user.id);
      const auth = await authenticator({ mode: 'single_use' });
      expect((await auth.authenticate(token)).ok).to.equal(true);
      expect(Number((await tokenRow(db, token))?.used)).to.equal(1);
      expect(await auth.authenticate(token)).to.deep.include({ ok: false, reason: 'token_unknown' });
    });

    it('lets only one of two racing connections use a single-use token', async () => {
      const user = await seedUser(db);
      const token = await issueToken(db, user.id);
      const auth = await authenticator({ mode: 'single_use' });
      const results = await Promise.all([auth.authenticate(token), auth.authenticate(token), auth.authenticate(token)]);
      expect(results.filter((r) => r.ok)).to.have.length(1);
    });

    it('refuses expired, used (single-use mode) and unknown tokens', async () => {
      const user = await seedUser(db);
      const expired = await issueToken(db, user.id, { expiresInSec: -5 });
      const used = await issueToken(db, user.id, { used: true });
      const auth = await authenticator({ mode: 'single_use' });
      expect(await auth.authenticate(expired)).to.deep.include({ ok: false, reason: 'token_unknown' });
      expect(await auth.authenticate(used)).to.deep.include({ ok: false, reason: 'token_unknown' });
      expect(await auth.authenticate('f'.repeat(64))).to.deep.include({ ok: false, reason: 'token_unknown' });
      expect(await auth.authenticate('F'.repeat(64))).to.deep.include({ ok: false, reason: 'malformed_credential' });
    });

    it('refuses disabled and deleted users, and ended sessions', async () => {
      const auth = await authenticator();
      const cases: Array<[Parameters<typeof seedUser>[1], string]> = [
        [{ disabled: true }, 'account_disabled'],
        [{ deleted: true }, 'account_deleted'],
        [{ keyTempo: '' }, 'logged_out'],
        [{ keyTempo: null }, 'logged_out'],
        [{ sessionEndsInSec: -10 }, 'session_timeout'],
      ];
      for (const [options, reason] of cases) {
        const user = await seedUser(db, options);
        const r = await auth.authenticate(await issueToken(db, user.id));
        expect(r, reason).to.deep.include({ ok: false, reason });
      }
    });

    it('creates reconnect tokens that authenticate as the same user', async () => {
      const user = await seedUser(db);
      const reconnect = await createReconnectToken(db, user.id);
      expect(reconnect).to.match(/^[a-f0-9]{64}$/);
      const r = await (await authenticator({ mode: 'single_use' })).authenticate(reconnect);
      expect(r.ok && r.identity.userId).to.equal(user.id);
    });
  });

  describe('JWT', () => {
    const sign = (payload: Record<string, unknown>, secret: string) => jwt.sign(payload, secret, { algorithm: 'HS256' });

    it('checks a TeamPass 3.2 API token: aud, iss, and its api_sessions row', async () => {
      await setTeampassSetting(db, 'api_jwt_secret', API_SECRET);
      await setTeampassSetting(db, 'cpassman_url', CPASSMAN_URL);
      const user = await seedUser(db, { login: 'api-user' });
      await addApiSession(db, { jti: 'jti-live', userId: user.id });
      await addApiSession(db, { jti: 'jti-revoked', userId: user.id, revoked: true });
      const auth = await authenticator();
      const claims = { id: user.id, exp: now() + 300, aud: 'teampass-api', iss: CPASSMAN_URL };

      const ok = await auth.authenticate(sign({ ...claims, jti: 'jti-live' }, API_SECRET));
      expect(ok.ok).to.equal(true);
      if (ok.ok) {
        expect(ok.identity).to.deep.include({ userId: user.id, login: 'api-user', method: 'jwt', jti: 'jti-live', keyTempo: null });
        expect(ok.identity.expiresAtMs).to.equal((claims.exp + 60) * 1000);
      }
      expect(await auth.authenticate(sign({ ...claims, jti: 'jti-revoked' }, API_SECRET))).to.deep.include({ ok: false, reason: 'jwt_revoked' });
      expect((await auth.authenticate(sign({ ...claims, jti: 'jti-unknown' }, API_SECRET))).ok, 'no row: accepted until exp, as TeamPass does').to.equal(true);
      expect(await auth.authenticate(sign({ ...claims, jti: 'jti-live', aud: 'x' }, API_SECRET))).to.deep.include({ ok: false, reason: 'jwt_bad_audience' });
      expect(await auth.authenticate(sign({ ...claims, jti: 'jti-live', iss: 'https://other' }, API_SECRET))).to.deep.include({ ok: false, reason: 'jwt_bad_issuer' });
      await revokeApiSession(db, 'jti-live');
      expect(await auth.authenticate(sign({ ...claims, jti: 'jti-live' }, API_SECRET))).to.deep.include({ ok: false, reason: 'jwt_revoked' });
    });

    it('decrypts an api_jwt_secret TeamPass marks as encrypted, with the install key file', async () => {
      const root = makeTeampassInstall({ version: '3.2', password: 'db-pass' });
      const teampass = await readTeampassSettings(root);
      const key = loadDefuseKey(readFileSync(teampass.keyFilePath!, 'utf8'));
      await db.knex(db.t.misc).insert({ type: 'admin', intitule: 'api_jwt_secret', valeur: encryptDefuse(API_SECRET, key), is_encrypted: 1 });
      const user = await seedUser(db);
      await addApiSession(db, { jti: 'j', userId: user.id });
      const r = await (await authenticator({ teampass })).authenticate(sign({ id: user.id, exp: now() + 60, aud: 'teampass-api', jti: 'j' }, API_SECRET));
      expect(r.ok).to.equal(true);
    });

    it("checks a TeamPass 3.1 API token with the DB_PASSWD string as it stands in settings.php", async () => {
      const root = makeTeampassInstall({ version: '3.1', password: 'db-pass' });
      const teampass = await readTeampassSettings(root);
      expect(teampass.rawDbPasswd).to.match(/^def/);
      const user = await seedUser(db);
      const auth = await authenticator({ teampass });
      const r = await auth.authenticate(sign({ id: user.id, username: 'x', exp: now() + 60 }, teampass.rawDbPasswd));
      expect(r.ok && r.identity.userId).to.equal(user.id);
      expect(await auth.authenticate(sign({ id: user.id, exp: now() + 60 }, 'db-pass'))).to.deep.include({ ok: false, reason: 'jwt_bad_signature' });
    });

    it('uses jwt_secret from the configuration, user from id or sub, and allowed_folders', async () => {
      const user = await seedUser(db);
      const auth = await authenticator({ configSecret: 'from-config' });
      const r = await auth.authenticate(sign({ sub: String(user.id), exp: now() + 60, allowed_folders: '4,5' }, 'from-config'));
      expect(r.ok).to.equal(true);
      if (r.ok) {
        expect([...(r.identity.allowedFolders ?? [])]).to.deep.equal([4, 5]);
        expect(r.identity.jti).to.equal(null);
      }
    });

    it('refuses tokens of disabled, deleted and unknown users', async () => {
      const auth = await authenticator({ configSecret: 's' });
      const disabled = await seedUser(db, { disabled: true });
      const deleted = await seedUser(db, { deleted: true });
      expect(await auth.authenticate(sign({ id: disabled.id, exp: now() + 60 }, 's'))).to.deep.include({ ok: false, reason: 'account_disabled' });
      expect(await auth.authenticate(sign({ id: deleted.id, exp: now() + 60 }, 's'))).to.deep.include({ ok: false, reason: 'account_deleted' });
      expect(await auth.authenticate(sign({ id: 987_654, exp: now() + 60 }, 's'))).to.deep.include({ ok: false, reason: 'account_deleted' });
    });

    it('says so when no JWT secret is available', async () => {
      const user = await seedUser(db);
      expect(await (await authenticator()).authenticate(sign({ id: user.id, exp: now() + 60 }, 'x'))).to.deep.include({ ok: false, reason: 'jwt_no_secret' });
    });
  });
});
