import { expect } from 'chai';
import { AccessCache, MiscSettings, accessFingerprints, computeFolderAccess } from '../../src/access/index.js';
import type { Database } from '../../src/db/index.js';
import { forEachBackend } from '../helpers/backends.js';
import {
  addFolder,
  addRole,
  assignRole,
  createTeampassDatabase,
  forbidFolder,
  grantFolder,
  seedUser,
  setRoleFolder,
  setTeampassSetting,
} from '../helpers/teampass-fixture.js';

forEachBackend("folder access: TeamPass's rule", (backend) => {
  let db: Database;
  let settings: MiscSettings;

  beforeEach(async () => {
    db = await createTeampassDatabase(await backend().newDatabaseUrl());
    settings = new MiscSettings(db);
    await settings.refresh();
  });
  afterEach(async () => db.close());

  const access = async (userId: number) => computeFolderAccess(db, settings, userId);

  it('grants role folders of every access type, R included but read-only, and nothing for an empty type', async () => {
    const f = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => addFolder(db, { title: `F${n}` })));
    const role = await addRole(db, { [f[0]]: 'W', [f[1]]: 'ND', [f[2]]: 'NE', [f[3]]: 'NDNE', [f[4]]: 'R', [f[5]]: '' });
    const user = await seedUser(db);
    await assignRole(db, user.id, role);
    const a = await access(user.id);
    expect([...a.folders].sort((x, y) => x - y)).to.deep.equal(f.slice(0, 5));
    expect([...a.readOnly]).to.deep.equal([f[4]]);
    expect(a.isAdmin).to.equal(false);
  });

  it('lets a direct grant lift read-only', async () => {
    const folder = await addFolder(db);
    const role = await addRole(db, { [folder]: 'R' });
    const user = await seedUser(db);
    await assignRole(db, user.id, role);
    expect([...(await access(user.id)).readOnly]).to.deep.equal([folder]);
    await grantFolder(db, user.id, folder);
    const a = await access(user.id);
    expect(a.folders.has(folder)).to.equal(true);
    expect(a.readOnly.size).to.equal(0);
  });

  it('counts direct grants (users_groups) without any role', async () => {
    const folder = await addFolder(db);
    const user = await seedUser(db);
    await grantFolder(db, user.id, folder);
    expect([...(await access(user.id)).folders]).to.deep.equal([folder]);
  });

  it('removes forbidden folders, whatever grants them', async () => {
    const [a, b] = [await addFolder(db), await addFolder(db)];
    const role = await addRole(db, { [a]: 'W' });
    const user = await seedUser(db);
    await assignRole(db, user.id, role);
    await grantFolder(db, user.id, b);
    await forbidFolder(db, user.id, a);
    await forbidFolder(db, user.id, b);
    expect((await access(user.id)).folders.size).to.equal(0);
  });

  it('ignores roles from ldap and oauth2 sources, honours manual and ad', async () => {
    const folders = await Promise.all([1, 2, 3, 4].map(() => addFolder(db)));
    const user = await seedUser(db);
    const sources = ['manual', 'ad', 'ldap', 'oauth2'] as const;
    for (const [i, source] of sources.entries()) await assignRole(db, user.id, await addRole(db, { [folders[i]]: 'W' }), source);
    expect([...(await access(user.id)).folders].sort((x, y) => x - y)).to.deep.equal(folders.slice(0, 2));
  });

  it('gives a user their own personal folder and its descendants only with enable_pf_feature', async () => {
    const user = await seedUser(db, { personalFolder: true });
    const other = await seedUser(db, { personalFolder: true });
    const mine = await addFolder(db, { ownerId: user.id });
    const mineChild = await addFolder(db, { parentId: mine, personal: true, title: 'Sub' });
    const theirs = await addFolder(db, { ownerId: other.id });
    expect((await access(user.id)).folders.size, 'feature off').to.equal(0);
    await setTeampassSetting(db, 'enable_pf_feature', '1');
    await settings.refresh();
    const a = await access(user.id);
    expect([...a.folders].sort((x, y) => x - y)).to.deep.equal([mine, mineChild]);
    expect([...a.personal].sort((x, y) => x - y)).to.deep.equal([mine, mineChild]);
    expect(a.folders.has(theirs)).to.equal(false);
  });

  it("never grants another user's personal folder, even through a role or a direct grant", async () => {
    await setTeampassSetting(db, 'enable_pf_feature', '1');
    await settings.refresh();
    const owner = await seedUser(db, { personalFolder: true });
    const theirs = await addFolder(db, { ownerId: owner.id });
    const user = await seedUser(db, { personalFolder: true });
    await assignRole(db, user.id, await addRole(db, { [theirs]: 'W' }));
    await grantFolder(db, user.id, theirs);
    expect((await access(user.id)).folders.has(theirs)).to.equal(false);
  });

  it('withholds the own personal folder when users.personal_folder is 0', async () => {
    await setTeampassSetting(db, 'enable_pf_feature', '1');
    await settings.refresh();
    const user = await seedUser(db, { personalFolder: false });
    await addFolder(db, { ownerId: user.id });
    expect((await access(user.id)).folders.size).to.equal(0);
  });

  it('gives admins every non-personal folder and no personal one', async () => {
    await setTeampassSetting(db, 'enable_pf_feature', '1');
    await settings.refresh();
    const admin = await seedUser(db, { admin: true, personalFolder: true });
    const shared = [await addFolder(db), await addFolder(db)];
    const own = await addFolder(db, { ownerId: admin.id });
    const a = await access(admin.id);
    expect(a.isAdmin).to.equal(true);
    expect([...a.folders].sort((x, y) => x - y)).to.deep.equal(shared);
    expect(a.folders.has(own)).to.equal(false);
  });

  it('allows the KB channel with enable_kb = 1, never to admins', async () => {
    const user = await seedUser(db);
    const admin = await seedUser(db, { admin: true });
    expect((await access(user.id)).kb).to.equal(false);
    await setTeampassSetting(db, 'enable_kb', '1');
    await settings.refresh();
    expect((await access(user.id)).kb).to.equal(true);
    expect((await access(admin.id)).kb).to.equal(false);
  });

  it('gives an unknown user nothing', async () => {
    expect((await access(999_999)).folders.size).to.equal(0);
  });

  it('caches per user and recomputes on demand', async () => {
    const folder = await addFolder(db);
    const role = await addRole(db, { [folder]: 'W' });
    const user = await seedUser(db);
    await assignRole(db, user.id, role);
    const cache = new AccessCache(db, settings, 60_000);
    expect((await cache.get(user.id)).folders.has(folder)).to.equal(true);
    await setRoleFolder(db, role, folder, null);
    expect((await cache.get(user.id)).folders.has(folder), 'still cached').to.equal(true);
    expect((await cache.recompute(user.id)).folders.has(folder)).to.equal(false);
    expect(cache.peek(user.id)?.folders.has(folder)).to.equal(false);
  });

  it('notices role and grant changes through fingerprints', async () => {
    const [u1, u2] = [await seedUser(db), await seedUser(db)];
    const before = await accessFingerprints(db, [u1.id, u2.id]);
    await assignRole(db, u1.id, await addRole(db, {}));
    const after = await accessFingerprints(db, [u1.id, u2.id]);
    expect(after.get(u1.id)).not.to.equal(before.get(u1.id));
    expect(after.get(u2.id)).to.equal(before.get(u2.id));
    await assignRole(db, u2.id, await addRole(db, {}), 'ldap');
    expect((await accessFingerprints(db, [u2.id])).get(u2.id), 'ldap roles do not count').to.equal(before.get(u2.id));
    await forbidFolder(db, u2.id, 5);
    expect((await accessFingerprints(db, [u2.id])).get(u2.id)).not.to.equal(before.get(u2.id));
  });
});
