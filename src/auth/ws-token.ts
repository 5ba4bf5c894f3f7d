import { randomBytes } from 'node:crypto';
import { TokensRepository, type Database } from '../db/index.js';

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
  const tokens = new TokensRepository(db);
  const row = await tokens.findValid(token, mode === 'single_use');
  if (!row) return null;
  if (mode === 'single_use' && !(await tokens.markUsed(row.id))) return null;
  return row.userId;
}

/** A fresh 64-hex token row, valid an hour, as TeamPass's client expects in `connected`. */
export async function createReconnectToken(db: Database, userId: number): Promise<string> {
  const token = randomBytes(32).toString('hex');
  await new TokensRepository(db).insert(userId, token, RECONNECT_TOKEN_TTL_SEC);
  return token;
}
