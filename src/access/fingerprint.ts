import type { Database } from '../db/index.js';
import { ACCESS_TYPES, ROLE_SOURCES } from './folder-access.js';

const CHUNK = 500;

/**
 * A cheap signature per user of the rows folder access depends on (roles, the roles' folders and
 * types, direct grants, forbidden folders), so a periodic check notices a change without recomputing every verdict.
 * Count, sum and sum of squares per table: an edit that keeps all three is not a realistic edit.
 */
export async function accessFingerprints(db: Database, userIds: readonly number[]): Promise<Map<number, string>> {
  const { knex, t } = db;
  const parts = new Map<number, string[]>();
  for (let i = 0; i < userIds.length; i += CHUNK) {
    const chunk = userIds.slice(i, i + CHUNK);
    const tables: Array<[string, string, boolean]> = [
      [t.usersRoles, 'role_id', true],
      [t.usersGroups, 'group_id', false],
      [t.usersGroupsForbidden, 'group_id', false],
    ];
    // roles_values of the user's roles: a role's folder list or access type edited in TeamPass's
    // admin panel changes the user's verdict without any event for the user.
    const typeCode = knex.raw(`CASE rv.type ${ACCESS_TYPES.map((type, i) => `WHEN '${type}' THEN ${i + 1}`).join(' ')} ELSE 0 END`);
    const roleValues = (await knex({ ur: t.usersRoles })
      .join({ rv: t.rolesValues }, 'rv.role_id', 'ur.role_id')
      .select('ur.user_id')
      .count({ n: '*' })
      .sum({ s: 'rv.folder_id' })
      .select(knex.raw('SUM(rv.folder_id * (?)) AS s2', [typeCode]))
      .whereIn('ur.user_id', chunk)
      .whereIn('ur.source', [...ROLE_SOURCES])
      .groupBy('ur.user_id')) as Array<{ user_id: number; n: number | string; s: number | string; s2: number | string }>;
    for (const row of roleValues) {
      const userId = Number(row.user_id);
      const list = parts.get(userId) ?? ['', '', '', ''];
      list[3] = `${row.n}:${row.s}:${row.s2}`;
      parts.set(userId, list);
    }
    for (const [index, [table, column, bySource]] of tables.entries()) {
      let query = knex(table)
        .select('user_id')
        .count({ n: '*' })
        .sum({ s: column })
        .select(knex.raw('SUM(?? * ??) AS s2', [column, column]))
        .whereIn('user_id', chunk)
        .groupBy('user_id');
      if (bySource) query = query.whereIn('source', [...ROLE_SOURCES]);
      const rows = (await query) as Array<{ user_id: number; n: number | string; s: number | string; s2: number | string }>;
      for (const row of rows) {
        const userId = Number(row.user_id);
        const list = parts.get(userId) ?? ['', '', '', ''];
        list[index] = `${row.n}:${row.s}:${row.s2}`;
        parts.set(userId, list);
      }
    }
  }
  const out = new Map<number, string>();
  for (const userId of userIds) out.set(userId, (parts.get(userId) ?? ['', '', '', '']).join('|'));
  return out;
}
