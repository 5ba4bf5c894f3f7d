import { expect } from 'chai';
import { AccessCache, MiscSettings, accessFingerprints, computeFolderAccess } from '../../src/access/index.js';
import type { Database } from '../../src/db/index.js';
import { forEachBackend } from '../helpers/backends.js';
import {
  addFolder,
  addRole,
  assignRole,
  forbidFolder,
  grantFolder,
  seedUser,
  setRoleFolder,
  setTeampassSetting,
} from '../helpers/teampass-fixture.js';
import { useServerSuite } from './server-harness.js';
import { seededRandom } from '../helpers/random.js';

const SCENARIOS = 25;
const sorted = (ids: Iterable<number>): number[] => [...ids].sort((x, y) => x - y);

forEachBackend("folder access: TeamPass's rule", (backend) => {
  const suite = useServerSuite(backend);
  let db: Database;
  let settings: MiscSettings;

  beforeEach(async () => {
    db = suite.db;
    settings = new MiscSettings(db);
    await settings.refresh();
  });

  const access = async (userId: number) => computeFolderAccess(db, settings, userId);

  describe('randomised: random trees, roles, grants and personal folders against a model of the rule', () => {
    const seed = Number(process.env.TEAMPASS_WS_TEST_SEED) || Date.now() % 2 ** 31;
    it(`agrees with the model on ${SCENARIOS} random installations (seed ${seed}; TEAMPASS_WS_TEST_SEED replays it)`, async () => {
      const random = seededRandom(seed);
      for (let n = 0; n < SCENARIOS; n++) {
        const scenario = await seedScenario(db, random, n);
        await settings.refresh();
        for (const user of scenario.users) {
          const got = await access(user.id);
          const want = modelAccess(scenario, user);
          const where = `seed ${seed}, scenario ${n}, user ${user.id}: ${JSON.stringify(scenario)}`;
          expect(sorted(got.folders), `folders; ${where}`).to.deep.equal(want.folders);
          expect(sorted(got.personal), `personal; ${where}`).to.deep.equal(want.personal);
        }
      }
    });
  });

  it('grants role folders of every access type, R included but read-only, and nothing for an empty type', async () => {
    const f = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => addFolder(db, { title: `F${n}` })));
    const role = await addRole(db, { [f[0]]: 'W', [f[1]]: 'ND', [f[2]]: 'NE', [f[3]]: 'NDNE', [f[4]]: 'R', [f[5]]: '' });
    const user = await seedUser(db);
    await assignRole(db, user.id, role);
    const a = await access(user.id);
    expect(sorted(a.folders), 'ids of concurrent inserts are not in array order: compare sorted with sorted').to.deep.equal(sorted(f.slice(0, 5)));
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

  it('gives users without read-only or personal folders one shared empty set, not one each (memory per connected user)', async () => {
    const folder = await addFolder(db);
    const users = await Promise.all([1, 2].map(() => seedUser(db)));
    for (const u of users) await grantFolder(db, u.id, folder);
    const [a, b] = await Promise.all(users.map((u) => access(u.id)));
    expect([...a!.folders]).to.deep.equal([folder]);
    expect(a!.readOnly.size + a!.personal.size).to.equal(0);
    expect(a!.readOnly, 'read-only').to.equal(b!.readOnly);
    expect(a!.personal, 'personal').to.equal(b!.readOnly);
    const nobody = await access(999_999);
    expect(nobody.folders).to.equal(a!.readOnly);
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
    expect(sorted((await access(user.id)).folders)).to.deep.equal(sorted(folders.slice(0, 2)));
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
    expect(sorted(a.folders)).to.deep.equal(sorted([mine, mineChild]));
    expect(sorted(a.personal)).to.deep.equal(sorted([mine, mineChild]));
    expect(a.folders.has(theirs)).to.equal(false);
  });

  it('does not take a personal root that is also a direct grant as the personal root: the grant gives the folder, not its subfolders', async () => {
    await setTeampassSetting(db, 'enable_pf_feature', '1');
    await settings.refresh();
    const user = await seedUser(db, { personalFolder: true });
    const root = await addFolder(db, { ownerId: user.id });
    const personalChild = await addFolder(db, { parentId: root, personal: true, title: 'Sub' });
    const sharedChild = await addFolder(db, { parentId: root, title: 'Shared below' });
    const ungranted = await addFolder(db, { parentId: root, title: 'Not granted' });
    await grantFolder(db, user.id, root);
    await assignRole(db, user.id, await addRole(db, { [sharedChild]: 'W', [personalChild]: 'W' }));
    const a = await access(user.id);
    expect(sorted(a.folders)).to.deep.equal(sorted([root, sharedChild]));
    expect(a.personal.size).to.equal(0);
    expect(a.folders.has(ungranted)).to.equal(false);
  });

  it("takes every nested descendant of the personal root as personal, whatever its own personal_folder flag", async () => {
    await setTeampassSetting(db, 'enable_pf_feature', '1');
    await settings.refresh();
    const user = await seedUser(db, { personalFolder: true });
    const root = await addFolder(db, { ownerId: user.id });
    const child = await addFolder(db, { parentId: root, title: 'Flag 0' });
    const grandchild = await addFolder(db, { parentId: child, personal: true, title: 'Flag 1' });
    const deeper = await addFolder(db, { parentId: grandchild, title: 'Flag 0 again' });
    await forbidFolder(db, user.id, child);
    const a = await access(user.id);
    expect(sorted(a.folders)).to.deep.equal(sorted([root, child, grandchild, deeper]));
    expect(sorted(a.personal)).to.deep.equal(sorted([root, child, grandchild, deeper]));
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
    expect(sorted(a.folders)).to.deep.equal(sorted(shared));
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

interface ModelFolder {
  id: number;
  parent: number;
  title: string;
  personal: boolean;
}
interface ModelUser {
  id: number;
  admin: boolean;
  personalFolder: boolean;
}
interface Scenario {
  pf: boolean;
  folders: ModelFolder[];
  users: ModelUser[];
  /** role id → folder id → type */
  roles: Record<number, Record<number, string>>;
  userRoles: Array<{ user: number; role: number; source: string }>;
  direct: Array<[number, number]>;
  forbidden: Array<[number, number]>;
}

/** Replaces the access tables' contents with a random installation. */
async function seedScenario(db: Database, random: () => number, n: number): Promise<Scenario> {
  const { knex, t } = db;
  for (const table of [t.nestedTree, t.users, t.rolesValues, t.usersRoles, t.usersGroups, t.usersGroupsForbidden]) await knex(table).delete();
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const chance = (p: number) => random() < p;
  const pf = chance(0.7);
  await setTeampassSetting(db, 'enable_pf_feature', pf ? '1' : '0');

  const users: ModelUser[] = [];
  for (let i = 0; i < 4; i++) {
    const u = { admin: chance(0.15), personalFolder: chance(0.7) };
    users.push({ id: (await seedUser(db, u)).id, ...u });
  }
  const owners = [...users.map((u) => String(u.id)), '999999'];

  const base = 1000 * (n + 1);
  const folders: ModelFolder[] = [];
  const count = 8 + Math.floor(random() * 12);
  for (let i = 0; i < count; i++) {
    const id = base + i;
    const parent = i === 0 || chance(0.3) ? 0 : pick(folders).id;
    const parentFolder = folders.find((f) => f.id === parent);
    let personal: boolean;
    let title = `F${id}`;
    if (!parentFolder) {
      personal = chance(0.5);
      if (personal) title = pick(owners);
    } else {
      personal = chance(0.7) ? parentFolder.personal : !parentFolder.personal;
      if (chance(0.1)) title = pick(owners);
    }
    folders.push({ id, parent, title, personal });
  }
  // Nested-set numbers from the parent links, children in id order, as TeamPass's tree keeps them.
  const numbers = new Map<number, { nleft: number; nright: number; nlevel: number }>();
  let counter = 0;
  const walk = (id: number, level: number) => {
    const nleft = ++counter;
    for (const child of folders.filter((f) => f.parent === id)) walk(child.id, level + 1);
    numbers.set(id, { nleft, nright: ++counter, nlevel: level });
  };
  for (const root of folders.filter((f) => f.parent === 0)) walk(root.id, 1);
  await knex(t.nestedTree).insert(folders.map((f) => ({ id: f.id, parent_id: f.parent, title: f.title, personal_folder: f.personal ? 1 : 0, ...numbers.get(f.id)! })));

  const roles: Scenario['roles'] = {};
  const roleValueRows: Array<Record<string, unknown>> = [];
  for (let r = 0; r < 3; r++) {
    const roleId = base + r;
    roles[roleId] = {};
    for (const f of folders) {
      if (!chance(0.35)) continue;
      const type = pick(['W', 'ND', 'NE', 'NDNE', 'R', '', 'X']);
      roles[roleId][f.id] = type;
      roleValueRows.push({ role_id: roleId, folder_id: f.id, type });
    }
  }
  if (roleValueRows.length > 0) await knex(t.rolesValues).insert(roleValueRows);
  const userRoles: Scenario['userRoles'] = [];
  const direct: Scenario['direct'] = [];
  const forbidden: Scenario['forbidden'] = [];
  for (const user of users) {
    for (const roleId of Object.keys(roles).map(Number)) if (chance(0.4)) userRoles.push({ user: user.id, role: roleId, source: pick(['manual', 'ad', 'ldap', 'oauth2']) });
    for (const f of folders) {
      // A grant of one's own personal root is the case TeamPass treats specially: make it frequent.
      const ownRoot = f.personal && f.parent === 0 && f.title === String(user.id);
      if (chance(ownRoot ? 0.5 : 0.15)) direct.push([user.id, f.id]);
      if (chance(0.1)) forbidden.push([user.id, f.id]);
    }
  }
  if (userRoles.length > 0) await knex(t.usersRoles).insert(userRoles.map((r) => ({ user_id: r.user, role_id: r.role, source: r.source })));
  if (direct.length > 0) await knex(t.usersGroups).insert(direct.map(([user_id, group_id]) => ({ user_id, group_id })));
  if (forbidden.length > 0) await knex(t.usersGroupsForbidden).insert(forbidden.map(([user_id, group_id]) => ({ user_id, group_id })));
  return { pf, folders, users, roles, userRoles, direct, forbidden };
}

/**
 * TeamPass's rule (TEAMPASS.md, "Folder access") decided folder by folder, with descendants
 * found by walking parent links rather than nleft / nright.
 */
function modelAccess(s: Scenario, user: ModelUser): { folders: number[]; personal: number[] } {
  if (user.admin) return { folders: sorted(s.folders.filter((f) => !f.personal).map((f) => f.id)), personal: [] };
  const direct = new Set(s.direct.filter(([u]) => u === user.id).map(([, f]) => f));
  const forbidden = new Set(s.forbidden.filter(([u]) => u === user.id).map(([, f]) => f));
  const roles = s.userRoles.filter((r) => r.user === user.id && (r.source === 'manual' || r.source === 'ad')).map((r) => r.role);
  const byRole = (folderId: number) => roles.some((r) => ['W', 'ND', 'NE', 'NDNE', 'R'].includes(s.roles[r][folderId]));
  const pfOn = s.pf && user.personalFolder;
  const mine = String(user.id);
  // The personal root: the first personal folder titled with the user's id that is not a direct grant.
  const root = pfOn ? s.folders.filter((f) => f.personal && f.title === mine && !direct.has(f.id)).sort((a, b) => a.id - b.id)[0] : undefined;
  const parentOf = new Map(s.folders.map((f) => [f.id, f.parent]));
  const under = (id: number, ancestor: number): boolean => {
    for (let p = parentOf.get(id) ?? 0; p !== 0; p = parentOf.get(p) ?? 0) if (p === ancestor) return true;
    return false;
  };
  const personal = root ? s.folders.filter((f) => f.id === root.id || under(f.id, root.id)).map((f) => f.id) : [];
  const folders = s.folders
    .filter((f) => {
      if (personal.includes(f.id)) return true;
      if (!direct.has(f.id) && !byRole(f.id)) return false;
      if (forbidden.has(f.id)) return false;
      // A personal folder outside the own tree: never, except one titled with the user's own id.
      return !f.personal || (pfOn && f.title === mine);
    })
    .map((f) => f.id);
  return { folders: sorted(folders), personal: sorted(personal) };
}
