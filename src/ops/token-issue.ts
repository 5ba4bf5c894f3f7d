import { randomBytes } from 'node:crypto';
import { sessionEnd } from '../auth/users.js';
import type { TokenMode } from '../auth/ws-token.js';
import { databaseError, TokensRepository, UsersRepository, type Database, type UserRow } from '../db/index.js';
import { TeampassWsError } from '../errors.js';

/** What TeamPass's page gives a token: 3.2 reuses it for an hour, 3.1 accepts it once within a minute. */
export const TOKEN_TTL_SEC: Record<TokenMode, number> = { reusable: 3600, single_use: 60 };
export const MAX_TOKEN_TTL_SEC = 7 * 24 * 3600;

export interface IssuedToken {
  token: string;
  userId: number;
  login: string;
  mode: TokenMode;
  ttlSec: number;
  /** Set when the daemon would refuse the token now: the user has no live TeamPass session. */
  sessionWarning?: string;
}

/**
 * Inserts a websocket_tokens row for `login` as TeamPass's page does (64 lowercase hex, in
 * clear, expiring after the mode's lifetime unless `ttlSec` is given), refusing accounts TeamPass
 * itself would not serve.
 */
export async function issueWsToken(db: Database, login: string, options: { mode: TokenMode; ttlSec?: number }): Promise<IssuedToken> {
  const ttlSec = options.ttlSec ?? TOKEN_TTL_SEC[options.mode];
  let user: UserRow | undefined;
  try {
    if (!(await new TokensRepository(db).tableExists())) {
      throw new TeampassWsError('MIGRATION', `The database ${db.description} has no ${db.t.tokens} table.`, {
        suggestion: 'Run `teampass-ws migrate` with the same --db / --teampass-root (and --prefix) first.',
      });
    }
    user = await new UsersRepository(db).findByLogin(login);
  } catch (err) {
    throw databaseError(err, db);
  }
  if (!user) {
    throw new TeampassWsError('INPUT', `No TeamPass user has the login "${login}" in ${db.t.users}.`, {
      suggestion: 'Give the login exactly as TeamPass shows it (Users in the admin panel).',
    });
  }
  const ended = sessionEnd(user, { method: 'jwt', keyTempo: null }, Math.floor(Date.now() / 1000));
  if (ended === 'account_deleted') {
    throw new TeampassWsError('INPUT', `The TeamPass user "${login}" is deleted: the daemon refuses its tokens.`, { suggestion: 'Issue the token for an active user.' });
  }
  if (ended === 'account_disabled') {
    throw new TeampassWsError('INPUT', `The TeamPass user "${login}" is disabled: the daemon refuses its tokens.`, {
      suggestion: "Enable the account in TeamPass's Users page, or issue the token for an active user.",
    });
  }
  const session = sessionEnd(user, { method: 'ws_token', keyTempo: null }, Math.floor(Date.now() / 1000));
  const token = randomBytes(32).toString('hex');
  try {
    await new TokensRepository(db).insert(user.id, token, ttlSec);
  } catch (err) {
    throw databaseError(err, db);
  }
  return {
    token,
    userId: user.id,
    login: user.login,
    mode: options.mode,
    ttlSec,
    ...(session
      ? {
          sessionWarning: `"${login}" has no live TeamPass session (${session.replace(/_/g, ' ')}): the daemon accepts websocket tokens only while the user is logged in to TeamPass. Log in as "${login}" before connecting.`,
        }
      : {}),
  };
}
