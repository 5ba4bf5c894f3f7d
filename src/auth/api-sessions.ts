import type { Database } from '../db/index.js';

const CHUNK = 500;

/**
 * TeamPass 3.2 API sessions by jti: the ones that are unknown or revoked (revoked_at set).
 * A missing table (a 3.1 database) revokes nothing, since 3.1 tokens carry no jti to check.
 */
export async function revokedJtis(db: Database, jtis: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  if (jtis.length === 0) return out;
  if (!(await db.knex.schema.hasTable(db.t.apiSessions))) return out;
  const live = new Set<string>();
  for (let i = 0; i < jtis.length; i += CHUNK) {
    const rows = (await db.knex(db.t.apiSessions).select('jti', 'revoked_at').whereIn('jti', jtis.slice(i, i + CHUNK))) as Array<{
      jti: string;
      revoked_at: number | string | null;
    }>;
    for (const row of rows) if (row.revoked_at === null || Number(row.revoked_at) === 0) live.add(row.jti);
  }
  for (const jti of jtis) if (!live.has(jti)) out.add(jti);
  return out;
}
