import { randomBytes } from 'node:crypto';
import { StatementBatch, TokensRepository, type Database, type UserRow } from '../db/index.js';
import { loadUsers } from './users.js';

export const WS_TOKEN_PATTERN = /^[a-f0-9]{64}$/;
/** What TeamPass's PHP daemon gives a reconnect token. */
export const RECONNECT_TOKEN_TTL_SEC = 3600;

export type TokenMode = 'reusable' | 'single_use';

/** How long handshakes wait to share one token lookup (one reconnect-token INSERT), and how many share at most. */
const BATCH_WINDOW_MS = 3;
const BATCH_MAX = 500;

export interface TokenHolder {
  userId: number;
  /** The users row, read with the token; undefined when the user no longer exists. */
  user: UserRow | undefined;
}

/**
 * Websocket tokens as a connect storm reads and writes them: the tokens of every handshake of
 * the last few milliseconds looked up in one `IN (…)` query together with their users, and the
 * reconnect tokens handed out meanwhile written in one multi-row INSERT. In single_use mode each
 * token is still marked used by its own atomic UPDATE, so two connections racing with one token
 * cannot both win.
 */
export class WsTokens {
  private readonly tokens: TokensRepository;
  private readonly lookups: StatementBatch<string, TokenHolder & { id: number } | null>;
  private readonly inserts: StatementBatch<{ userId: number; token: string }, void>;

  constructor(
    private readonly db: Database,
    private readonly mode: TokenMode,
  ) {
    this.tokens = new TokensRepository(db);
    this.lookups = new StatementBatch((tokens) => this.lookUp(tokens), BATCH_WINDOW_MS, BATCH_MAX);
    this.inserts = new StatementBatch(
      async (rows) => {
        await this.tokens.insertMany(rows, RECONNECT_TOKEN_TTL_SEC);
        return rows.map(() => undefined);
      },
      BATCH_WINDOW_MS,
      BATCH_MAX,
    );
  }

  /** The holder of an unexpired (in single_use mode: unused, now marked used) token, or null. */
  async consume(token: string): Promise<TokenHolder | null> {
    if (!WS_TOKEN_PATTERN.test(token)) return null;
    const row = await this.lookups.add(token);
    if (!row) return null;
    if (this.mode === 'single_use' && !(await this.tokens.markUsed(row.id))) return null;
    return { userId: row.userId, user: row.user };
  }

  /** A fresh 64-hex token row, valid an hour, as TeamPass's client expects in `connected`; resolves once written. */
  async createReconnectToken(userId: number): Promise<string> {
    const token = randomBytes(32).toString('hex');
    await this.inserts.add({ userId, token });
    return token;
  }

  private async lookUp(tokens: string[]): Promise<Array<TokenHolder & { id: number } | null>> {
    const rows = await this.tokens.findValidMany(tokens, this.mode === 'single_use');
    const users = rows.size === 0 ? new Map<number, UserRow>() : await loadUsers(this.db, [...new Set([...rows.values()].map((r) => r.userId))]);
    return tokens.map((token) => {
      const row = rows.get(token);
      return row ? { ...row, user: users.get(row.userId) } : null;
    });
  }
}

/** A fresh 64-hex token row, valid an hour, as TeamPass's client expects in `connected`. */
export async function createReconnectToken(db: Database, userId: number): Promise<string> {
  const token = randomBytes(32).toString('hex');
  await new TokensRepository(db).insert(userId, token, RECONNECT_TOKEN_TTL_SEC);
  return token;
}
