import type { Database } from './knex.js';
import { deleteChunked, now, nowPlusSeconds } from './sql.js';

/** websocket_tokens: what TeamPass's page writes for its websocket, and the reconnect tokens the daemon hands out. */
export class TokensRepository {
  constructor(private readonly db: Database) {}

  async tableExists(): Promise<boolean> {
    return this.db.knex.schema.hasTable(this.db.t.tokens);
  }

  /** A row for `token` valid `ttlSec` from now, unused. */
  async insert(userId: number, token: string, ttlSec: number): Promise<void> {
    await this.db.knex(this.db.t.tokens).insert({ user_id: userId, token, expires_at: nowPlusSeconds(this.db, ttlSec), used: 0 });
  }

  /** Rows of [userId, token] valid `ttlSec` from now, unused, in one INSERT. */
  async insertMany(rows: ReadonlyArray<{ userId: number; token: string }>, ttlSec: number): Promise<void> {
    if (rows.length === 0) return;
    const expires_at = nowPlusSeconds(this.db, ttlSec);
    await this.db.knex(this.db.t.tokens).insert(rows.map((r) => ({ user_id: r.userId, token: r.token, expires_at, used: 0 })));
  }

  /** The unexpired rows holding these tokens (only unused ones when `unusedOnly`), by token, in one SELECT. */
  async findValidMany(tokens: readonly string[], unusedOnly: boolean): Promise<Map<string, { id: number; userId: number }>> {
    const out = new Map<string, { id: number; userId: number }>();
    if (tokens.length === 0) return out;
    const { knex, t } = this.db;
    let query = knex(t.tokens).select('id', 'user_id', 'token').whereIn('token', [...new Set(tokens)]).where('expires_at', '>', now(this.db));
    if (unusedOnly) query = query.where({ used: 0 });
    const rows: Array<{ id: unknown; user_id: unknown; token: unknown }> = await query;
    // Several rows may hold one token: the first found wins, as `first()` does for one token.
    for (const r of rows) if (!out.has(String(r.token))) out.set(String(r.token), { id: Number(r.id), userId: Number(r.user_id) });
    return out;
  }

  /** The unexpired row holding `token` (only an unused one when `unusedOnly`). */
  async findValid(token: string, unusedOnly: boolean): Promise<{ id: number; userId: number } | undefined> {
    const { knex, t } = this.db;
    let query = knex(t.tokens).select('id', 'user_id').where({ token }).where('expires_at', '>', now(this.db));
    if (unusedOnly) query = query.where({ used: 0 });
    const row: { id: unknown; user_id: unknown } | undefined = await query.first();
    return row ? { id: Number(row.id), userId: Number(row.user_id) } : undefined;
  }

  /** Marks an unused row used; false when it was used already (another connection won the race). */
  async markUsed(id: number): Promise<boolean> {
    return (await this.db.knex(this.db.t.tokens).where({ id, used: 0 }).update({ used: 1 })) === 1;
  }

  /** Deletes expired rows in short chunks; the number deleted. */
  async deleteExpired(stopped: () => boolean): Promise<number> {
    return deleteChunked(this.db, this.db.t.tokens, (q) => q.where('expires_at', '<', now(this.db)), stopped);
  }
}
