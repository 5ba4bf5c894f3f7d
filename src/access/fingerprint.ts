import { FoldersRepository, type Aggregate, type Database } from '../db/index.js';
import { ACCESS_TYPES, ROLE_SOURCES } from './folder-access.js';

const part = (a: Aggregate | undefined): string => (a ? `${a.count}:${a.sum}:${a.sumSquares}` : '');

/**
 * A cheap signature per user of the rows folder access depends on (roles, the roles' folders and
 * types, direct grants, forbidden folders), so a periodic check notices a change without recomputing every verdict.
 * Count, sum and sum of squares per table: an edit that keeps all three is not a realistic edit.
 * roles_values of the user's roles count too: a role's folder list or access type edited in
 * TeamPass's admin panel changes the user's verdict without any event for the user.
 */
export async function accessFingerprints(db: Database, userIds: readonly number[]): Promise<Map<number, string>> {
  const aggregates = await new FoldersRepository(db).accessAggregates(userIds, ROLE_SOURCES, ACCESS_TYPES);
  const out = new Map<number, string>();
  for (const userId of userIds) {
    const a = aggregates.get(userId);
    out.set(userId, [part(a?.roles), part(a?.directGrants), part(a?.forbidden), part(a?.roleFolders)].join('|'));
  }
  return out;
}
