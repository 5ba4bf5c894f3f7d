import { expect } from 'chai';
import { computeFolderAccess, MiscSettings } from '../../src/access/index.js';
import { now, unixSecondsSql, type Database } from '../../src/db/index.js';
import { DEMO_USERS, prepareDemo } from '../../src/demo/index.js';
import { isTeampassWsError } from '../../src/errors.js';
import { forEachBackend, openTestDatabase } from '../helpers/backends.js';

async function counts(db: Database): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of [db.t.users, db.t.nestedTree, db.t.rolesValues, db.t.usersRoles, db.t.usersGroups, db.t.usersGroupsForbidden, db.t.items, db.t.kb, db.t.misc]) {
    const row = (await db.knex(table).count({ n: '*' }).first()) as { n: number | string };
    out[table] = Number(row.n);
  }
  return out;
}

forEachBackend('demo dataset', (backend) => {
  let db: Database;

  beforeEach(async () => {
    db = await openTestDatabase(await backend().newDatabaseUrl());
  });

  afterEach(async () => {
    await db.close();
  });

  it('creates the tables, the organisation, TeamPass settings and a reusable 24 h token per user', async () => {
    const demo = await prepareDemo(db);
    expect(demo.users.map((u) => u.login)).to.deep.equal(['admin', 'manager', 'auditor', 'pat']);
    expect(demo.database).to.equal(db.description);
    for (const u of demo.users) {
      expect(u.token).to.match(/^[a-f0-9]{64}$/);
      const row = (await db
        .knex(db.t.tokens)
        .where({ token: u.token })
        .first('user_id', 'used', db.knex.raw(`${unixSecondsSql(db, 'expires_at')} - ${unixSecondsSql(db, db.client === 'mysql' ? 'CURRENT_TIMESTAMP' : "datetime('now')")} AS ttl`))) as {
        user_id: number;
        used: number;
        ttl: number;
      };
      expect(Number(row.user_id)).to.equal(u.id);
      expect(Number(row.used)).to.equal(0);
      expect(Number(row.ttl)).to.be.within(24 * 3600 - 60, 24 * 3600);
    }
    const settings = (await db.knex(db.t.misc).where({ type: 'admin' }).select('intitule', 'valeur')) as Array<{ intitule: string; valeur: string }>;
    const byName = Object.fromEntries(settings.map((s) => [s.intitule, s.valeur]));
    expect(byName).to.include({ websocket_enabled: '1', enable_kb: '1', enable_pf_feature: '1' });
    const users = (await db.knex(db.t.users).select('id', 'key_tempo', 'session_end')) as Array<{ key_tempo: string; session_end: string }>;
    for (const u of users) {
      expect(u.key_tempo).to.match(/^[a-f0-9]{32}$/);
      expect(Number(u.session_end)).to.be.greaterThan(Date.now() / 1000 + 3600);
    }
  });

  it("gives each user the access TeamPass's rule computes, read-only and personal folders included", async () => {
    const demo = await prepareDemo(db);
    const settings = new MiscSettings(db);
    await settings.refresh();
    for (const spec of DEMO_USERS) {
      const access = await computeFolderAccess(db, settings, spec.id);
      const expected = Object.entries(spec.expectedAccess);
      expect([...access.folders].sort(), spec.login).to.deep.equal(expected.map(([id]) => Number(id)).sort());
      expect([...access.readOnly], `${spec.login} read-only`).to.deep.equal(expected.filter(([, a]) => a === 'read-only').map(([id]) => Number(id)));
      expect([...access.personal].sort(), `${spec.login} personal`).to.deep.equal(expected.filter(([, a]) => a === 'personal').map(([id]) => Number(id)));
      expect(demo.users.find((u) => u.id === spec.id)!.access.map((a) => a.folderId).sort()).to.deep.equal([...access.folders].sort());
    }
  });

  it('loads the dataset once: a second run adds only fresh tokens, and the old ones keep working', async () => {
    const first = await prepareDemo(db);
    const before = await counts(db);
    const second = await prepareDemo(db);
    expect(await counts(db)).to.deep.equal(before);
    expect(second.users.map((u) => u.token)).to.not.have.members(first.users.map((u) => u.token));
    const tokens = (await db.knex(db.t.tokens).count({ n: '*' }).first()) as { n: number | string };
    expect(Number(tokens.n)).to.equal(8);
    const stillValid = (await db
      .knex(db.t.tokens)
      .whereIn('token', first.users.map((u) => u.token))
      .where('expires_at', '>', now(db))
      .count({ n: '*' })
      .first()) as { n: number | string };
    expect(Number(stillValid.n)).to.equal(4);
  });

  it('refuses a database that already holds TeamPass users, and writes nothing into it', async () => {
    await db.knex.schema.createTable(db.t.users, (t) => {
      t.increments('id');
      t.string('login', 500);
    });
    await db.knex(db.t.users).insert({ login: 'real.person' });
    const err = await prepareDemo(db).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isTeampassWsError(err), String(err)).to.equal(true);
    expect((err as Error).message).to.match(/already holds 1 TeamPass user\(s\)/);
    expect(await db.knex.schema.hasTable(db.t.events)).to.equal(false);
    expect(await db.knex.schema.hasTable(db.t.nestedTree)).to.equal(false);
  });
});
