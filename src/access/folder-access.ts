import type { Database } from '../db/index.js';
import type { MiscSettings } from './misc-settings.js';

/** One user's verdict under TeamPass's rule (TEAMPASS.md "Folder access"). */
export interface FolderAccess {
  readonly userId: number;
  readonly isAdmin: boolean;
  /** Every folder whose events the user may receive (read-only ones included). */
  readonly folders: ReadonlySet<number>;
  /** Readable but not writable: R in a role and not lifted by a direct grant. */
  readonly readOnly: ReadonlySet<number>;
  /** The user's own personal folder and its descendants, when the feature is on. */
  readonly personal: ReadonlySet<number>;
  /** May use the KB channel: setting enable_kb = 1, and not an admin. */
  readonly kb: boolean;
  readonly computedAtMs: number;
}

/** Role sources TeamPass itself honours; ldap / oauth2 rows are synchronisation leftovers. */
export const ROLE_SOURCES = ['manual', 'ad'] as const;
/** roles_values types that grant access; '' (and anything else) grants nothing. */
export const ACCESS_TYPES = ['W', 'ND', 'NE', 'NDNE', 'R'] as const;

const ids = (rows: Array<Record<string, unknown>>, column: string): number[] => rows.map((r) => Number(r[column])).filter((n) => Number.isInteger(n) && n > 0);

export function noAccess(userId: number, nowMs = Date.now()): FolderAccess {
  return { userId, isAdmin: false, folders: new Set(), readOnly: new Set(), personal: new Set(), kb: false, computedAtMs: nowMs };
}

export async function computeFolderAccess(db: Database, settings: MiscSettings, userId: number): Promise<FolderAccess> {
  const { knex, t } = db;
  const computedAtMs = Date.now();
  const user = (await knex(t.users).select('admin', 'personal_folder').where({ id: userId }).first()) as
    | { admin: number | string; personal_folder: number | string }
    | undefined;
  if (!user) return noAccess(userId, computedAtMs);
  const isAdmin = Number(user.admin) === 1;
  const kb = settings.enabled('enable_kb') && !isAdmin;

  if (isAdmin) {
    const rows = (await knex(t.nestedTree).select('id').where({ personal_folder: 0 })) as Array<{ id: number }>;
    return { userId, isAdmin, folders: new Set(ids(rows, 'id')), readOnly: new Set(), personal: new Set(), kb, computedAtMs };
  }

  const [roleRows, directRows, forbiddenRows, personalRows] = await Promise.all([
    knex(t.usersRoles).select('role_id').where({ user_id: userId }).whereIn('source', [...ROLE_SOURCES]),
    knex(t.usersGroups).select('group_id').where({ user_id: userId }),
    knex(t.usersGroupsForbidden).select('group_id').where({ user_id: userId }),
    knex(t.nestedTree).select('id', 'title', 'nleft', 'nright').where({ personal_folder: 1 }),
  ]);
  const roleIds = ids(roleRows, 'role_id');
  const valueRows = roleIds.length
    ? ((await knex(t.rolesValues).select('folder_id', 'type').whereIn('role_id', roleIds).whereIn('type', [...ACCESS_TYPES])) as Array<{ folder_id: number; type: string }>)
    : [];

  const direct = new Set(ids(directRows, 'group_id'));
  const forbidden = new Set(ids(forbiddenRows, 'group_id'));
  const allPersonal = personalRows as Array<{ id: number; title: string; nleft: number; nright: number }>;
  const pfOn = settings.enabled('enable_pf_feature') && Number(user.personal_folder) === 1;
  const titledMine = (f: { title: string }) => String(f.title).trim() === String(userId);

  // TeamPass's personal root: the first personal folder titled with the user's id that is not also
  // a direct grant (a granted one is just a granted folder, its subfolders not personal access).
  const own = new Set<number>();
  const root = pfOn ? allPersonal.filter((f) => titledMine(f) && !direct.has(Number(f.id))).sort((a, b) => Number(a.id) - Number(b.id))[0] : undefined;
  if (root) {
    own.add(Number(root.id));
    // Every nested descendant, whatever its own personal_folder flag.
    const below = (await knex(t.nestedTree).select('id').where('nleft', '>', Number(root.nleft)).andWhere('nright', '<', Number(root.nright))) as Array<{ id: number }>;
    for (const id of ids(below, 'id')) own.add(id);
  }
  // Personal folders no grant can open: all but the own tree and, with the feature on, those titled with the user's id.
  const closed = new Set(ids(allPersonal.filter((f) => !own.has(Number(f.id)) && !(pfOn && titledMine(f))), 'id'));

  const folders = new Set<number>();
  const readOnly = new Set<number>();
  const consider = (folderId: number) => {
    if (!forbidden.has(folderId) && !closed.has(folderId)) folders.add(folderId);
  };
  for (const folderId of direct) consider(folderId);
  for (const row of valueRows) {
    const folderId = Number(row.folder_id);
    consider(folderId);
    if (row.type === 'R' && !direct.has(folderId)) readOnly.add(folderId);
  }
  for (const folderId of own) {
    folders.add(folderId);
    readOnly.delete(folderId);
  }
  for (const folderId of readOnly) if (!folders.has(folderId)) readOnly.delete(folderId);

  return { userId, isAdmin, folders, readOnly, personal: own, kb, computedAtMs };
}
