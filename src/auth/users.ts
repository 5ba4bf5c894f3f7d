import { UsersRepository, type Database, type UserRow } from '../db/index.js';
import type { Identity } from './identity.js';

export async function loadUser(db: Database, userId: number): Promise<UserRow | undefined> {
  return new UsersRepository(db).find(userId);
}

export async function loadUsers(db: Database, userIds: readonly number[]): Promise<Map<number, UserRow>> {
  return new UsersRepository(db).findMany(userIds);
}

/** Why a TeamPass session is over; the reason goes out in the session_expired event. */
export type SessionEnd = 'account_deleted' | 'account_disabled' | 'logged_out' | 'session_replaced' | 'session_timeout';

function isDeleted(value: UserRow['deleted_at']): boolean {
  if (value === null) return false;
  const text = value.trim();
  return text !== '' && text !== '0';
}

/**
 * TeamPass's own notion of a live session: the account exists and is enabled, and for a browser
 * (websocket token) connection, key_tempo is still the one it connected with and session_end is
 * in the future. API (JWT) connections have no browser session: their token's exp and
 * revocation stand in for it.
 */
export function sessionEnd(user: UserRow | undefined, identity: Pick<Identity, 'method' | 'keyTempo'>, nowSec: number): SessionEnd | null {
  if (!user || isDeleted(user.deleted_at)) return 'account_deleted';
  if (user.disabled === 1) return 'account_disabled';
  if (identity.method !== 'ws_token') return null;
  const keyTempo = user.key_tempo ?? '';
  if (keyTempo === '') return 'logged_out';
  if (identity.keyTempo !== null && keyTempo !== identity.keyTempo) return 'session_replaced';
  const end = Number((user.session_end ?? '').trim() || 0);
  if (!Number.isFinite(end) || end <= nowSec) return 'session_timeout';
  return null;
}
