import { FoldersRepository, UsersRepository, type Database, type FolderRow, type UserRow } from '../db/index.js';
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

/**
 * The one empty set every verdict shares: most users have no read-only or personal folder, and an
 * empty Set of their own costs each of them about 150 bytes for as long as they are connected.
 */
const NO_FOLDERS: ReadonlySet<number> = new Set();
/** The set itself, or the shared empty one. */
const orNone = (ids: ReadonlySet<number>) => (ids.size > 0 ? ids : NO_FOLDERS);

export function noAccess(userId: number, nowMs = Date.now()): FolderAccess {
  return { userId, isAdmin: false, folders: NO_FOLDERS, readOnly: NO_FOLDERS, personal: NO_FOLDERS, kb: false, computedAtMs: nowMs };
}

/** What the rule reads, one user at a time (AccessReadBatch answers many users' reads with one query each). */
export interface AccessReads {
  user(userId: number): Promise<UserRow | undefined>;
  publicFolderIds(): Promise<number[]>;
  roleIds(userId: number, sources: readonly string[]): Promise<number[]>;
  directGrantIds(userId: number): Promise<number[]>;
  forbiddenIds(userId: number): Promise<number[]>;
  personalFolders(): Promise<FolderRow[]>;
  roleFolders(roleIds: readonly number[], types: readonly string[]): Promise<Array<{ folderId: number; type: string }>>;
  descendantIds(root: FolderRow): Promise<number[]>;
}

/** Reads straight from the database, a query each. */
export function directAccessReads(db: Database): AccessReads {
  const tree = new FoldersRepository(db);
  const users = new UsersRepository(db);
  return {
    user: (userId) => users.find(userId),
    publicFolderIds: () => tree.publicFolderIds(),
    roleIds: (userId, sources) => tree.roleIds(userId, sources),
    directGrantIds: (userId) => tree.directGrantIds(userId),
    forbiddenIds: (userId) => tree.forbiddenIds(userId),
    personalFolders: () => tree.personalFolders(),
    roleFolders: (roleIds, types) => tree.roleFolders(roleIds, types),
    descendantIds: (root) => tree.descendantIds(root),
  };
}

export async function computeFolderAccess(db: Database, settings: MiscSettings, userId: number, tree: AccessReads = directAccessReads(db)): Promise<FolderAccess> {
  const computedAtMs = Date.now();
  const user = await tree.user(userId);
  if (!user) return noAccess(userId, computedAtMs);
  const isAdmin = user.admin === 1;
  const kb = settings.enabled('enable_kb') && !isAdmin;

  if (isAdmin) {
    return { userId, isAdmin, folders: orNone(new Set(await tree.publicFolderIds())), readOnly: NO_FOLDERS, personal: NO_FOLDERS, kb, computedAtMs };
  }

  const [roleIds, directIds, forbiddenIds, allPersonal] = await Promise.all([
    tree.roleIds(userId, ROLE_SOURCES),
    tree.directGrantIds(userId),
    tree.forbiddenIds(userId),
    tree.personalFolders(),
  ]);
  const valueRows = await tree.roleFolders(roleIds, ACCESS_TYPES);

  const direct = new Set(directIds);
  const forbidden = new Set(forbiddenIds);
  const pfOn = settings.enabled('enable_pf_feature') && user.personal_folder === 1;
  const titledMine = (f: { title: string }) => f.title.trim() === String(userId);

  // TeamPass's personal root: the first personal folder titled with the user's id that is not also
  // a direct grant (a granted one is just a granted folder, its subfolders not personal access).
  const own = new Set<number>();
  const root = pfOn ? allPersonal.filter((f) => titledMine(f) && !direct.has(f.id)).sort((a, b) => a.id - b.id)[0] : undefined;
  if (root) {
    own.add(root.id);
    for (const id of await tree.descendantIds(root)) own.add(id);
  }
  // Personal folders no grant can open: all but the own tree and, with the feature on, those titled with the user's id.
  const closed = new Set(allPersonal.filter((f) => !own.has(f.id) && !(pfOn && titledMine(f))).map((f) => f.id));

  const folders = new Set<number>();
  const readOnly = new Set<number>();
  const consider = (folderId: number) => {
    if (!forbidden.has(folderId) && !closed.has(folderId)) folders.add(folderId);
  };
  for (const folderId of direct) consider(folderId);
  for (const row of valueRows) {
    const { folderId } = row;
    consider(folderId);
    if (row.type === 'R' && !direct.has(folderId)) readOnly.add(folderId);
  }
  for (const folderId of own) {
    folders.add(folderId);
    readOnly.delete(folderId);
  }
  for (const folderId of readOnly) if (!folders.has(folderId)) readOnly.delete(folderId);

  return { userId, isAdmin, folders: orNone(folders), readOnly: orNone(readOnly), personal: orNone(own), kb, computedAtMs };
}
