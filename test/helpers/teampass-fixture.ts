/**
 * A TeamPass-shaped database for tests: TeamPass's own tables (createTeampassTables), this
 * project's migrations, and small builders for users, roles, folders, tokens, items and locks.
 * Every builder writes rows the way TeamPass does, so the code under test reads real data.
 */
import { randomBytes } from 'node:crypto';
import type { Database } from '../../src/db/index.js';
import { createTeampassTables, nowPlusSeconds, setTeampassSetting } from '../../src/db/index.js';
import { Migrator } from '../../migrations/migrator.js';
import { openTestDatabase } from './backends.js';

export { setTeampassSetting };

const unixNow = () => Math.floor(Date.now() / 1000);

/** Opens `url`, creates TeamPass's tables and applies the migrations. */
export async function createTeampassDatabase(url: string, prefix = 'teampass_'): Promise<Database> {
  const db = await openTestDatabase(url, prefix);
  await prepareTeampassDatabase(db);
  return db;
}

export async function prepareTeampassDatabase(db: Database): Promise<void> {
  await createTeampassTables(db);
  await new Migrator(db).latest();
}

/**
 * Opens `url` with TeamPass's tables and the websocket tables as TeamPass 3.2's own installer
 * creates them (its DDL on MySQL, the same columns on SQLite), without this project's
 * migrations table. `omit` leaves a column out ('events.processed_at'), as a damaged schema.
 */
export async function createTeampassInstalledDatabase(url: string, omit: string[] = []): Promise<Database> {
  const db = await openTestDatabase(url);
  await createTeampassTables(db);
  const mysql = db.client === 'mysql';
  const tables: Record<'events' | 'connections' | 'tokens', Array<[string, string, string]>> = {
    events: [
      ['id', 'INT UNSIGNED AUTO_INCREMENT PRIMARY KEY', 'INTEGER PRIMARY KEY AUTOINCREMENT'],
      ['created_at', 'TIMESTAMP DEFAULT CURRENT_TIMESTAMP', 'TIMESTAMP DEFAULT CURRENT_TIMESTAMP'],
      ['event_type', 'VARCHAR(50) NOT NULL', 'VARCHAR(50) NOT NULL'],
      ['target_type', "ENUM('user', 'folder', 'kb', 'broadcast') NOT NULL", 'TEXT NOT NULL'],
      ['target_id', 'INT UNSIGNED NULL', 'INTEGER NULL'],
      ['payload', 'JSON NOT NULL', 'TEXT NOT NULL'],
      ['processed', 'TINYINT(1) UNSIGNED DEFAULT 0', 'INTEGER DEFAULT 0'],
      ['processed_at', 'TIMESTAMP NULL', 'TIMESTAMP NULL'],
    ],
    connections: [
      ['id', 'INT UNSIGNED AUTO_INCREMENT PRIMARY KEY', 'INTEGER PRIMARY KEY AUTOINCREMENT'],
      ['user_id', 'INT UNSIGNED NOT NULL', 'INTEGER NOT NULL'],
      ['resource_id', 'VARCHAR(50) NOT NULL', 'VARCHAR(50) NOT NULL'],
      ['connected_at', 'TIMESTAMP DEFAULT CURRENT_TIMESTAMP', 'TIMESTAMP DEFAULT CURRENT_TIMESTAMP'],
      ['disconnected_at', 'TIMESTAMP NULL', 'TIMESTAMP NULL'],
      ['ip_address', 'VARCHAR(45) NULL', 'VARCHAR(45) NULL'],
      ['user_agent', 'TEXT NULL', 'TEXT NULL'],
    ],
    tokens: [
      ['id', 'INT UNSIGNED AUTO_INCREMENT PRIMARY KEY', 'INTEGER PRIMARY KEY AUTOINCREMENT'],
      ['user_id', 'INT UNSIGNED NOT NULL', 'INTEGER NOT NULL'],
      ['token', 'VARCHAR(64) NOT NULL UNIQUE', 'VARCHAR(64) NOT NULL UNIQUE'],
      ['created_at', 'TIMESTAMP DEFAULT CURRENT_TIMESTAMP', 'TIMESTAMP DEFAULT CURRENT_TIMESTAMP'],
      ['expires_at', 'TIMESTAMP NOT NULL', 'TIMESTAMP NOT NULL'],
      ['used', 'TINYINT(1) UNSIGNED DEFAULT 0', 'INTEGER DEFAULT 0'],
    ],
  };
  const extras: Record<keyof typeof tables, string[]> = {
    events: ['INDEX idx_unprocessed (processed, created_at)', 'INDEX idx_cleanup (processed, processed_at)'],
    connections: ['INDEX idx_user (user_id)', 'INDEX idx_active (disconnected_at)', 'INDEX idx_resource (resource_id)'],
    tokens: ['INDEX idx_user (user_id)', 'INDEX idx_expires (expires_at)'],
  };
  for (const [logical, columns] of Object.entries(tables) as Array<[keyof typeof tables, Array<[string, string, string]>]>) {
    const kept = columns.filter(([name]) => !omit.includes(`${logical}.${name}`));
    const definitions = kept.map(([name, my, lite]) => `${name} ${mysql ? my : lite}`);
    const omitted = omit.filter((o) => o.startsWith(`${logical}.`)).map((o) => o.slice(logical.length + 1));
    // An index over a left-out column goes too.
    const indexes = mysql ? extras[logical].filter((index) => !omitted.some((name) => index.includes(name))) : [];
    const options = mysql ? ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci' : '';
    await db.knex.raw(`CREATE TABLE ${db.t[logical]} (${[...definitions, ...indexes].join(', ')})${options}`);
  }
  return db;
}

export interface SeedUserOptions {
  login?: string;
  name?: string | null;
  lastname?: string | null;
  admin?: boolean;
  manager?: boolean;
  disabled?: boolean;
  deleted?: boolean;
  /** users.personal_folder: the user has the personal-folder feature. */
  personalFolder?: boolean;
  /** users.key_tempo; default a fresh random value (a logged-in browser session). */
  keyTempo?: string | null;
  /** session_end relative to now (s); default one hour. */
  sessionEndsInSec?: number;
}

export interface SeededUser {
  id: number;
  login: string;
  keyTempo: string | null;
}

let loginCounter = 0;

export async function seedUser(db: Database, o: SeedUserOptions = {}): Promise<SeededUser> {
  loginCounter += 1;
  const login = o.login ?? `user${loginCounter}`;
  const keyTempo = o.keyTempo === undefined ? randomBytes(16).toString('hex') : o.keyTempo;
  const [id] = await db.knex(db.t.users).insert({
    login,
    name: o.name === undefined ? null : o.name,
    lastname: o.lastname === undefined ? null : o.lastname,
    admin: o.admin ? 1 : 0,
    gestionnaire: o.manager ? 1 : 0,
    disabled: o.disabled ? 1 : 0,
    personal_folder: o.personalFolder ? 1 : 0,
    key_tempo: keyTempo,
    session_end: String(unixNow() + (o.sessionEndsInSec ?? 3600)),
    deleted_at: o.deleted ? String(unixNow()) : null,
  });
  return { id: Number(id), login, keyTempo };
}

export async function updateUser(db: Database, userId: number, values: Record<string, unknown>): Promise<void> {
  await db.knex(db.t.users).where({ id: userId }).update(values);
}

/** What TeamPass's logout does to the row: key_tempo cleared. */
export async function logout(db: Database, userId: number): Promise<void> {
  await updateUser(db, userId, { key_tempo: '' });
}

export interface TokenOptions {
  /** Seconds until expires_at; negative for an expired token. Default 3600. */
  expiresInSec?: number;
  used?: boolean;
  token?: string;
}

/** A websocket_tokens row as TeamPass's page writes it; returns the 64-hex token. */
export async function issueToken(db: Database, userId: number, o: TokenOptions = {}): Promise<string> {
  const token = o.token ?? randomBytes(32).toString('hex');
  await db.knex(db.t.tokens).insert({ user_id: userId, token, expires_at: nowPlusSeconds(db, o.expiresInSec ?? 3600), used: o.used ? 1 : 0 });
  return token;
}

export async function tokenRow(db: Database, token: string): Promise<{ user_id: number; used: number } | undefined> {
  return (await db.knex(db.t.tokens).select('user_id', 'used').where({ token }).first()) as { user_id: number; used: number } | undefined;
}

export interface FolderOptions {
  title?: string;
  parentId?: number;
  /** A personal folder; give `ownerId` for a root personal folder (its title is the owner's id). */
  personal?: boolean;
  ownerId?: number;
}

/** Adds a nested_tree folder and renumbers nleft / nright / nlevel as TeamPass's tree does. */
export async function addFolder(db: Database, o: FolderOptions = {}): Promise<number> {
  const personal = o.personal || o.ownerId !== undefined;
  const title = o.ownerId !== undefined ? String(o.ownerId) : (o.title ?? 'Folder');
  const [id] = await db.knex(db.t.nestedTree).insert({ parent_id: o.parentId ?? 0, title, nleft: 0, nright: 0, nlevel: 0, personal_folder: personal ? 1 : 0 });
  await renumberTree(db);
  return Number(id);
}

async function renumberTree(db: Database): Promise<void> {
  const rows = (await db.knex(db.t.nestedTree).select('id', 'parent_id').orderBy('id')) as Array<{ id: number; parent_id: number }>;
  const children = new Map<number, number[]>();
  for (const row of rows) children.set(Number(row.parent_id), [...(children.get(Number(row.parent_id)) ?? []), Number(row.id)]);
  let counter = 0;
  const numbers = new Map<number, { nleft: number; nright: number; nlevel: number }>();
  const walk = (id: number, level: number) => {
    const nleft = ++counter;
    for (const child of children.get(id) ?? []) walk(child, level + 1);
    numbers.set(id, { nleft, nright: ++counter, nlevel: level });
  };
  for (const root of children.get(0) ?? []) walk(root, 1);
  for (const [id, values] of numbers) await db.knex(db.t.nestedTree).where({ id }).update(values);
}

export type AccessType = 'W' | 'ND' | 'NE' | 'NDNE' | 'R' | '';

let roleCounter = 1000;

/** A role with its roles_values rows; returns the role id. */
export async function addRole(db: Database, folders: Record<number, AccessType>): Promise<number> {
  roleCounter += 1;
  const roleId = roleCounter;
  for (const [folderId, type] of Object.entries(folders)) {
    await db.knex(db.t.rolesValues).insert({ role_id: roleId, folder_id: Number(folderId), type });
  }
  return roleId;
}

export async function setRoleFolder(db: Database, roleId: number, folderId: number, type: AccessType | null): Promise<void> {
  await db.knex(db.t.rolesValues).where({ role_id: roleId, folder_id: folderId }).delete();
  if (type !== null) await db.knex(db.t.rolesValues).insert({ role_id: roleId, folder_id: folderId, type });
}

export async function assignRole(db: Database, userId: number, roleId: number, source: 'manual' | 'ad' | 'ldap' | 'oauth2' = 'manual'): Promise<void> {
  await db.knex(db.t.usersRoles).insert({ user_id: userId, role_id: roleId, source });
}

export async function removeRole(db: Database, userId: number, roleId: number): Promise<void> {
  await db.knex(db.t.usersRoles).where({ user_id: userId, role_id: roleId }).delete();
}

/** A direct folder grant (users_groups). */
export async function grantFolder(db: Database, userId: number, folderId: number): Promise<void> {
  await db.knex(db.t.usersGroups).insert({ user_id: userId, group_id: folderId });
}

export async function revokeFolder(db: Database, userId: number, folderId: number): Promise<void> {
  await db.knex(db.t.usersGroups).where({ user_id: userId, group_id: folderId }).delete();
}

export async function forbidFolder(db: Database, userId: number, folderId: number): Promise<void> {
  await db.knex(db.t.usersGroupsForbidden).insert({ user_id: userId, group_id: folderId });
}

export async function addItem(db: Database, o: { folderId: number; label?: string }): Promise<number> {
  const [id] = await db.knex(db.t.items).insert({ label: o.label ?? 'Item', id_tree: o.folderId });
  return Number(id);
}

export async function addKb(db: Database, o: { label?: string } = {}): Promise<number> {
  const [id] = await db.knex(db.t.kb).insert({ label: o.label ?? 'Article' });
  return Number(id);
}

/** An items_edition row (an edition lock), `ageSec` old. */
export async function lockItem(db: Database, o: { itemId: number; userId: number; ageSec?: number }): Promise<void> {
  await db.knex(db.t.itemsEdition).insert({ item_id: o.itemId, user_id: o.userId, timestamp: String(unixNow() - (o.ageSec ?? 0)) });
}

export async function lockKb(db: Database, o: { kbId: number; userId: number; ageSec?: number }): Promise<void> {
  await db.knex(db.t.kbEdition).insert({ kb_id: o.kbId, user_id: o.userId, timestamp: String(unixNow() - (o.ageSec ?? 0)) });
}

/** A TeamPass 3.2 api_sessions row for a JWT's jti. */
export async function addApiSession(db: Database, o: { jti: string; userId: number; revoked?: boolean; expiresInSec?: number }): Promise<void> {
  await db.knex(db.t.apiSessions).insert({
    jti: o.jti,
    user_id: o.userId,
    key_tempo: null,
    expires_at: unixNow() + (o.expiresInSec ?? 3600),
    revoked_at: o.revoked ? unixNow() : null,
  });
}

export async function revokeApiSession(db: Database, jti: string): Promise<void> {
  await db.knex(db.t.apiSessions).where({ jti }).update({ revoked_at: unixNow() });
}

export interface EventRowShape {
  id: number;
  event_type: string;
  target_type: string;
  target_id: number | null;
  payload: Record<string, unknown>;
}

/** websocket_events rows, payloads parsed whatever the driver returned. */
export async function eventRows(db: Database, where: Record<string, unknown> = {}): Promise<EventRowShape[]> {
  const rows = (await db.knex(db.t.events).select('id', 'event_type', 'target_type', 'target_id', 'payload').where(where).orderBy('id')) as Array<
    Omit<EventRowShape, 'payload'> & { payload: unknown }
  >;
  return rows.map((r) => ({
    ...r,
    id: Number(r.id),
    target_id: r.target_id === null ? null : Number(r.target_id),
    payload: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Record<string, unknown>,
  }));
}
