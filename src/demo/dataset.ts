/**
 * A small TeamPass-shaped organisation for the demo: four users whose folder access exercises
 * each part of TeamPass's rule (admin, role grants, a read-only R role, a direct grant, a
 * forbidden folder, a personal folder). Ids are fixed so loading it twice changes nothing.
 */

export type DemoAccess = 'write' | 'read-only' | 'personal';

export interface DemoFolder {
  readonly id: number;
  readonly parentId: number;
  readonly title: string;
  readonly nleft: number;
  readonly nright: number;
  readonly nlevel: number;
  /** Owner's user id for a personal folder (TeamPass stores it as the folder's title at the root). */
  readonly personalOwner?: number;
}

export interface DemoUserSpec {
  readonly id: number;
  readonly login: string;
  readonly name: string;
  readonly lastname: string;
  readonly admin: 0 | 1;
  readonly gestionnaire: 0 | 1;
  readonly personalFolder: 0 | 1;
  /** Who this user is in the story, for the banner and the page. */
  readonly role: string;
  /** Folder id → access, as TeamPass's rule works it out from the rows below. */
  readonly expectedAccess: Readonly<Record<number, DemoAccess>>;
}

export const DEMO_FOLDERS: readonly DemoFolder[] = [
  { id: 1, parentId: 0, title: 'Infrastructure', nleft: 1, nright: 4, nlevel: 1 },
  { id: 2, parentId: 1, title: 'Network', nleft: 2, nright: 3, nlevel: 2 },
  { id: 3, parentId: 0, title: 'Applications', nleft: 5, nright: 6, nlevel: 1 },
  { id: 4, parentId: 0, title: 'Audit', nleft: 7, nright: 8, nlevel: 1 },
  { id: 5, parentId: 0, title: '4', nleft: 9, nright: 12, nlevel: 1, personalOwner: 4 },
  { id: 6, parentId: 5, title: 'Drafts', nleft: 10, nright: 11, nlevel: 2, personalOwner: 4 },
];

/** Role ids; TeamPass keeps their titles in roles_title, which the daemon does not read. */
export const DEMO_ROLES = { managers: 1, auditors: 2, staff: 3 } as const;

export const DEMO_ROLE_FOLDERS: ReadonlyArray<{ roleId: number; folderId: number; type: 'W' | 'R' | 'ND' | 'NE' | 'NDNE' }> = [
  { roleId: DEMO_ROLES.managers, folderId: 1, type: 'W' },
  { roleId: DEMO_ROLES.managers, folderId: 2, type: 'W' },
  { roleId: DEMO_ROLES.managers, folderId: 3, type: 'W' },
  { roleId: DEMO_ROLES.managers, folderId: 4, type: 'W' },
  { roleId: DEMO_ROLES.auditors, folderId: 4, type: 'R' },
  { roleId: DEMO_ROLES.staff, folderId: 3, type: 'W' },
];

export const DEMO_USERS: readonly DemoUserSpec[] = [
  {
    id: 1,
    login: 'admin',
    name: 'Ada',
    lastname: 'Admin',
    admin: 1,
    gestionnaire: 0,
    personalFolder: 0,
    role: 'administrator: every shared folder, no personal folder',
    expectedAccess: { 1: 'write', 2: 'write', 3: 'write', 4: 'write' },
  },
  {
    id: 2,
    login: 'manager',
    name: 'Max',
    lastname: 'Manager',
    admin: 0,
    gestionnaire: 1,
    personalFolder: 0,
    role: 'manager: role Managers on all shared folders, but Network is forbidden to him',
    expectedAccess: { 1: 'write', 3: 'write', 4: 'write' },
  },
  {
    id: 3,
    login: 'auditor',
    name: 'Rita',
    lastname: 'Reader',
    admin: 0,
    gestionnaire: 0,
    personalFolder: 0,
    role: 'user: Audit read-only (role Auditors, type R), Applications (role Staff), Network (direct grant)',
    expectedAccess: { 2: 'write', 3: 'write', 4: 'read-only' },
  },
  {
    id: 4,
    login: 'pat',
    name: 'Pat',
    lastname: 'Personal',
    admin: 0,
    gestionnaire: 0,
    personalFolder: 1,
    role: 'user with a personal folder (enable_pf_feature=1): Applications (role Staff), own personal folder',
    expectedAccess: { 3: 'write', 5: 'personal', 6: 'personal' },
  },
];

export const DEMO_USER_ROLES: ReadonlyArray<{ userId: number; roleId: number }> = [
  { userId: 2, roleId: DEMO_ROLES.managers },
  { userId: 3, roleId: DEMO_ROLES.auditors },
  { userId: 3, roleId: DEMO_ROLES.staff },
  { userId: 4, roleId: DEMO_ROLES.staff },
];

/** users_groups: a folder granted to one user directly. */
export const DEMO_DIRECT_GRANTS: ReadonlyArray<{ userId: number; folderId: number }> = [{ userId: 3, folderId: 2 }];

/** users_groups_forbidden: a folder kept from one user whatever the roles say. */
export const DEMO_FORBIDDEN: ReadonlyArray<{ userId: number; folderId: number }> = [{ userId: 2, folderId: 2 }];

export const DEMO_ITEMS: ReadonlyArray<{ id: number; label: string; folderId: number }> = [
  { id: 1, label: 'Core switch admin', folderId: 1 },
  { id: 2, label: 'VPN gateway', folderId: 2 },
  { id: 3, label: 'CRM database', folderId: 3 },
  { id: 4, label: 'Audit export key', folderId: 4 },
  { id: 5, label: 'Home router', folderId: 5 },
];

export const DEMO_KB: ReadonlyArray<{ id: number; label: string }> = [{ id: 1, label: 'How to rotate a shared password' }];

/** misc admin settings the daemon reads. */
export const DEMO_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['websocket_enabled', '1'],
  ['enable_kb', '1'],
  ['enable_pf_feature', '1'],
];

/** Marks a database as holding the demo dataset (so the demo never writes into a real TeamPass). */
export const DEMO_MARKER = { type: 'teampass_ws', intitule: 'demo_dataset' } as const;

export function folderPath(folder: DemoFolder): string {
  const names: string[] = [];
  let current: DemoFolder | undefined = folder;
  while (current) {
    names.unshift(current.personalOwner !== undefined && current.parentId === 0 ? `Personal (${DEMO_USERS.find((u) => u.id === current!.personalOwner)?.login ?? current.title})` : current.title);
    const parentId: number = current.parentId;
    current = DEMO_FOLDERS.find((f) => f.id === parentId);
  }
  return names.join(' / ');
}
