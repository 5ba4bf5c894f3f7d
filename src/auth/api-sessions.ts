import { UsersRepository, type Database } from '../db/index.js';

/** A TeamPass 3.2 API token's session: its jti and the user it was issued to. */
export interface ApiSessionRef {
  readonly jti: string;
  readonly userId: number;
}

/**
 * TeamPass's own verdict on an API session: `unknown` (no row for this jti and user: a token
 * issued before api_sessions existed, good until it expires), `live`, `revoked` (revoked_at set)
 * or `expired` (expires_at past).
 */
export type ApiSessionVerdict = 'live' | 'unknown' | 'revoked' | 'expired';

export const apiSessionKey = (ref: ApiSessionRef): string => `${ref.userId}:${ref.jti}`;

/** Whether TeamPass's API would refuse the token. */
export const apiSessionRefused = (verdict: ApiSessionVerdict | undefined): boolean => verdict === 'revoked' || verdict === 'expired';

/**
 * Judges API sessions as TeamPass's API does: the row is looked up by jti and user id together.
 * Keyed by apiSessionKey. A missing table (a 3.1 database) leaves every session `unknown`.
 */
export async function apiSessionVerdicts(db: Database, refs: readonly ApiSessionRef[], nowSec = Math.floor(Date.now() / 1000)): Promise<Map<string, ApiSessionVerdict>> {
  const out = new Map<string, ApiSessionVerdict>();
  for (const ref of refs) out.set(apiSessionKey(ref), 'unknown');
  const users = new UsersRepository(db);
  if (refs.length === 0 || !(await users.hasApiSessions())) return out;
  for (const row of await users.apiSessionsByJti(refs.map((r) => r.jti))) {
    const key = apiSessionKey(row);
    if (!out.has(key)) continue;
    const verdict: ApiSessionVerdict = row.revokedAt !== null && row.revokedAt !== 0 ? 'revoked' : row.expiresAt <= nowSec ? 'expired' : 'live';
    // Several rows for one session: any refusing row wins, as a revocation must not be hidden by a duplicate.
    if (out.get(key) === 'unknown' || apiSessionRefused(verdict)) out.set(key, verdict);
  }
  return out;
}
