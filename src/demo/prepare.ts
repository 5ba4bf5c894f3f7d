import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { createTeampassTables, databaseError, nowPlusSeconds, setTeampassSetting, type Database } from '../db/index.js';
import { Migrator } from '../db/migrator.js';
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
    await db.knex.transaction(async (trx) => {
      await loadDataset(trx, db);
      await startSessions(trx, db, sessionHours);
    });
    for (const [name, value] of DEMO_SETTINGS) await setTeampassSetting(db, name, value);
    const users: DemoUserInfo[] = [];
    for (const u of DEMO_USERS) {
      const token = randomBytes(32).toString('hex');
      await db.knex(db.t.tokens).insert({ user_id: u.id, token, expires_at: nowPlusSeconds(db, tokenTtlHours * 3600), used: 0 });
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
  if (!(await db.knex.schema.hasTable(db.t.users))) return;
  const marker = (await db.knex.schema.hasTable(db.t.misc)) ? await db.knex(db.t.misc).where(DEMO_MARKER).first() : undefined;
  if (marker) return;
  const row = (await db.knex(db.t.users).count({ n: '*' }).first()) as { n: number | string } | undefined;
  const count = Number(row?.n ?? 0);
  if (count > 0) {
    throw new TeampassWsError('USAGE', `The database ${db.description} already holds ${count} TeamPass user(s): demo mode only runs on the embedded database or an empty one.`, {
      suggestion: 'Run `teampass-ws serve` without --demo to serve this TeamPass, or drop --db to use the embedded demo database.',
    });
  }
}

/** Inserts a row unless one matching `key` exists: loading twice adds nothing. */
async function ensureRow(trx: Knex.Transaction, table: string, key: Record<string, unknown>, values: Record<string, unknown> = {}): Promise<void> {
  const exists = await trx(table).where(key).first();
  if (!exists) await trx(table).insert({ ...key, ...values });
}

async function loadDataset(trx: Knex.Transaction, db: Database): Promise<void> {
  const { t } = db;
  await ensureRow(trx, t.misc, DEMO_MARKER, { valeur: '1' });
  for (const u of DEMO_USERS) {
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
  for (const f of DEMO_FOLDERS) {
    await ensureRow(trx, t.nestedTree, { id: f.id }, {
      parent_id: f.parentId,
      title: f.title,
      nleft: f.nleft,
      nright: f.nright,
      nlevel: f.nlevel,
      personal_folder: f.personalOwner === undefined ? 0 : 1,
    });
  }
  for (const r of DEMO_ROLE_FOLDERS) await ensureRow(trx, t.rolesValues, { role_id: r.roleId, folder_id: r.folderId }, { type: r.type });
  for (const r of DEMO_USER_ROLES) await ensureRow(trx, t.usersRoles, { user_id: r.userId, role_id: r.roleId }, { source: 'manual' });
  for (const g of DEMO_DIRECT_GRANTS) await ensureRow(trx, t.usersGroups, { user_id: g.userId, group_id: g.folderId });
  for (const g of DEMO_FORBIDDEN) await ensureRow(trx, t.usersGroupsForbidden, { user_id: g.userId, group_id: g.folderId });
  for (const i of DEMO_ITEMS) await ensureRow(trx, t.items, { id: i.id }, { label: i.label, id_tree: i.folderId });
  for (const k of DEMO_KB) await ensureRow(trx, t.kb, { id: k.id }, { label: k.label });
}

/** Logs every demo user in, as TeamPass does at login: a fresh key_tempo and a session end. */
async function startSessions(trx: Knex.Transaction, db: Database, sessionHours: number): Promise<void> {
  const sessionEnd = String(Math.floor(Date.now() / 1000) + sessionHours * 3600);
  for (const u of DEMO_USERS) {
    await trx(db.t.users)
      .where({ id: u.id })
      .update({ key_tempo: randomBytes(16).toString('hex'), session_end: sessionEnd, disabled: 0, deleted_at: null });
  }
}
