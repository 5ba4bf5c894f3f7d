import { randomBytes } from 'node:crypto';
import { nowPlusSeconds, now, type Database } from '../db/index.js';

export const WS_TOKEN_PATTERN = /^[a-f0-9]{64}$/;
/** What TeamPass's PHP daemon gives a reconnect token. */
export const RECONNECT_TOKEN_TTL_SEC = 3600;

export type TokenMode = 'reusable' | 'single_use';

/**
 * Finds the user of an unexpired websocket_tokens row. In single_use mode (TeamPass 3.1) the
 * row must be unused and is marked used by this call, atomically, so two connections racing
 * with one token cannot both win.
 */
export async function consumeWsToken(db: Database, token: string, mode: TokenMode): Promise<number | null> {
  if (!WS_TOKEN_PATTERN.test(token)) return null;
  const { knex, t } = db;
  let query = knex(t.tokens).select('id', 'user_id').where({ token }).where('expires_at', '>', now(db));
  if (mode === 'single_use') query = query.where({ used: 0 });
  const row = (await query.first()) as { id: number; user_id: number } | undefined;
  if (!row) return null;
  if (mode === 'single_use') {
    const updated = await knex(t.tokens).where({ id: row.id, used: 0 }).update({ used: 1 });
    if (updated !== 1) return null;
  }
  return Number(row.user_id);
}

/** A fresh 64-hex token row, valid an hour, as TeamPass's client expects in `connected`. */
export async function createReconnectToken(db: Database, userId: number): Promise<string> {
  const token = randomBytes(32).toString('hex');
  await db.knex(db.t.tokens).insert({ user_id: userId, token, expires_at: nowPlusSeconds(db, RECONNECT_TOKEN_TTL_SEC), used: 0 });
  return token;
}
