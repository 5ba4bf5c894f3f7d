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
