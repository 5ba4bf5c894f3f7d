import type { Knex } from 'knex';
import type { Database } from './knex.js';

/** A small TeamPass organisation, in TeamPass's own terms, for the embedded demo and tests. */
export interface TeampassSeed {
  /** The misc row that says this database holds the seed (type, intitule). */
  marker: { type: string; intitule: string };
  users: ReadonlyArray<{ id: number; login: string; name: string; lastname: string; admin: number; gestionnaire: number; personalFolder: number }>;
  folders: ReadonlyArray<{ id: number; parentId: number; title: string; nleft: number; nright: number; nlevel: number; personal: boolean }>;
  roleFolders: ReadonlyArray<{ roleId: number; folderId: number; type: string }>;
  userRoles: ReadonlyArray<{ userId: number; roleId: number }>;
  directGrants: ReadonlyArray<{ userId: number; folderId: number }>;
  forbidden: ReadonlyArray<{ userId: number; folderId: number }>;
  items: ReadonlyArray<{ id: number; label: string; folderId: number }>;
  kb: ReadonlyArray<{ id: number; label: string }>;
}

/** A TeamPass login: what TeamPass writes into users when someone logs in. */
export interface SeedSession {
  userId: number;
  keyTempo: string;
  /** Unix seconds. */
  sessionEnd: number;
}

/** Inserts a row unless one matching `key` exists: loading twice adds nothing. */
async function ensureRow(trx: Knex.Transaction, table: string, key: Record<string, unknown>, values: Record<string, unknown> = {}): Promise<void> {
  const exists: unknown = await trx(table).where(key).first();
  if (!exists) await trx(table).insert({ ...key, ...values });
}

/** Whether the database already holds the seed with this marker. */
export async function hasSeedMarker(db: Database, marker: TeampassSeed['marker']): Promise<boolean> {
  if (!(await db.knex.schema.hasTable(db.t.misc))) return false;
  return (await db.knex(db.t.misc).where(marker).first()) !== undefined;
}

/** Loads the seed (rows already there are kept) and logs the users in, in one transaction. */
export async function loadSeed(db: Database, seed: TeampassSeed, sessions: readonly SeedSession[]): Promise<void> {
  const { t } = db;
  await db.knex.transaction(async (trx) => {
    await ensureRow(trx, t.misc, seed.marker, { valeur: '1' });
    for (const u of seed.users) {
      await ensureRow(trx, t.users, { id: u.id }, {
        login: u.login,
        name: u.name,
        lastname: u.lastname,
        admin: u.admin,
        gestionnaire: u.gestionnaire,
        disabled: 0,
        personal_folder: u.personalFolder,
      });
    }
    for (const f of seed.folders) {
      await ensureRow(trx, t.nestedTree, { id: f.id }, { parent_id: f.parentId, title: f.title, nleft: f.nleft, nright: f.nright, nlevel: f.nlevel, personal_folder: f.personal ? 1 : 0 });
    }
    for (const r of seed.roleFolders) await ensureRow(trx, t.rolesValues, { role_id: r.roleId, folder_id: r.folderId }, { type: r.type });
    for (const r of seed.userRoles) await ensureRow(trx, t.usersRoles, { user_id: r.userId, role_id: r.roleId }, { source: 'manual' });
    for (const g of seed.directGrants) await ensureRow(trx, t.usersGroups, { user_id: g.userId, group_id: g.folderId });
    for (const g of seed.forbidden) await ensureRow(trx, t.usersGroupsForbidden, { user_id: g.userId, group_id: g.folderId });
    for (const i of seed.items) await ensureRow(trx, t.items, { id: i.id }, { label: i.label, id_tree: i.folderId });
    for (const k of seed.kb) await ensureRow(trx, t.kb, { id: k.id }, { label: k.label });
    for (const s of sessions) {
      await trx(t.users).where({ id: s.userId }).update({ key_tempo: s.keyTempo, session_end: String(s.sessionEnd), disabled: 0, deleted_at: null });
    }
  });
}
