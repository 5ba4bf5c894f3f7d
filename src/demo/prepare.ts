import { randomBytes } from 'node:crypto';
import { createTeampassTables, databaseError, hasSeedMarker, loadSeed, setTeampassSetting, TokensRepository, UsersRepository, type Database, type TeampassSeed } from '../db/index.js';
import { Migrator } from '../../migrations/migrator.js';
import { TeampassWsError } from '../errors.js';
import {
  DEMO_DIRECT_GRANTS,
  DEMO_FOLDERS,
  DEMO_FORBIDDEN,
  DEMO_ITEMS,
  DEMO_KB,
  DEMO_MARKER,
  DEMO_ROLE_FOLDERS,
  DEMO_SETTINGS,
  DEMO_USER_ROLES,
  DEMO_USERS,
  folderPath,
  type DemoAccess,
} from './dataset.js';

export interface DemoFolderInfo {
  id: number;
  title: string;
  /** e.g. 'Infrastructure / Network'. */
  path: string;
  personal: boolean;
}

export interface DemoUserInfo {
  id: number;
  login: string;
  displayName: string;
  admin: boolean;
  /** Who this user is in the story. */
  role: string;
  /** A fresh websocket token (64 hex), reusable until it expires. */
  token: string;
  /** Folders this user may see under TeamPass's rule, with how. */
  access: Array<{ folderId: number; access: DemoAccess }>;
}

export interface DemoInfo {
  /** Where the dataset lives, without any password. */
  database: string;
  tokenTtlHours: number;
  users: DemoUserInfo[];
  folders: DemoFolderInfo[];
}

export interface PrepareDemoOptions {
  /** Lifetime of the issued tokens (hours). */
  tokenTtlHours?: number;
  /** TeamPass session lifetime written to users.session_end (hours). */
  sessionHours?: number;
}

/**
 * Makes `db` a working demo: TeamPass's tables, the websocket tables, the demo organisation
 * (loaded once; running again changes nothing but the sessions and tokens), and a fresh
 * websocket token per demo user. Refuses a database that holds users of its own: the demo
 * never writes into a real TeamPass.
 */
export async function prepareDemo(db: Database, options: PrepareDemoOptions = {}): Promise<DemoInfo> {
  const tokenTtlHours = options.tokenTtlHours ?? 24;
  const sessionHours = options.sessionHours ?? 24 * 30;
  try {
    await refuseRealTeampass(db);
    await createTeampassTables(db);
    await new Migrator(db).latest();
    // Every demo user logged in, as TeamPass does at login: a fresh key_tempo and a session end.
    const sessionEnd = Math.floor(Date.now() / 1000) + sessionHours * 3600;
    await loadSeed(db, demoSeed(), DEMO_USERS.map((u) => ({ userId: u.id, keyTempo: randomBytes(16).toString('hex'), sessionEnd })));
    for (const [name, value] of DEMO_SETTINGS) await setTeampassSetting(db, name, value);
    const users: DemoUserInfo[] = [];
    for (const u of DEMO_USERS) {
      const token = randomBytes(32).toString('hex');
      await new TokensRepository(db).insert(u.id, token, tokenTtlHours * 3600);
      users.push({
        id: u.id,
        login: u.login,
        displayName: `${u.name} ${u.lastname}`,
        admin: u.admin === 1,
        role: u.role,
        token,
        access: Object.entries(u.expectedAccess).map(([folderId, access]) => ({ folderId: Number(folderId), access })),
      });
    }
    return {
      database: db.description,
      tokenTtlHours,
      users,
      folders: DEMO_FOLDERS.map((f) => ({ id: f.id, title: f.title, path: folderPath(f), personal: f.personalOwner !== undefined })),
    };
  } catch (err) {
    throw databaseError(err, db);
  }
}

async function refuseRealTeampass(db: Database): Promise<void> {
  const users = new UsersRepository(db);
  if (!(await users.tableExists())) return;
  if (await hasSeedMarker(db, DEMO_MARKER)) return;
  const count = await users.count();
  if (count > 0) {
    throw new TeampassWsError('USAGE', `The database ${db.description} already holds ${count} TeamPass user(s): demo mode only runs on the embedded database or an empty one.`, {
      suggestion: 'Run `teampass-ws serve` without --demo to serve this TeamPass, or drop --db to use the embedded demo database.',
    });
  }
}

function demoSeed(): TeampassSeed {
  return {
    marker: DEMO_MARKER,
    users: DEMO_USERS,
    folders: DEMO_FOLDERS.map((f) => ({ ...f, personal: f.personalOwner !== undefined })),
    roleFolders: DEMO_ROLE_FOLDERS,
    userRoles: DEMO_USER_ROLES,
    directGrants: DEMO_DIRECT_GRANTS,
    forbidden: DEMO_FORBIDDEN,
    items: DEMO_ITEMS,
    kb: DEMO_KB,
  };
}
