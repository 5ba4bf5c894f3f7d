import type { Database } from './knex.js';
import type { FolderRow } from './rows.js';
import { toCount } from './values.js';

const CHUNK = 500;

/** Count, sum and sum of squares of one column of a user's rows: a cheap signature of them. */
export interface Aggregate {
  count: number;
  sum: number;
  sumSquares: number;
}

/** Per user, the aggregates of each table folder access depends on; a table without rows for the user is absent. */
export interface AccessAggregates {
  roles?: Aggregate;
  directGrants?: Aggregate;
  forbidden?: Aggregate;
  /** roles_values of the user's roles, folder ids weighted by access type. */
  roleFolders?: Aggregate;
}

const ids = (rows: Array<Record<string, unknown>>, column: string): number[] => rows.map((r) => Number(r[column])).filter((n) => Number.isInteger(n) && n > 0);

const toAggregate = (row: { n?: unknown; s?: unknown; s2?: unknown }): Aggregate => ({ count: toCount(row.n), sum: toCount(row.s), sumSquares: toCount(row.s2) });

/**
 * TeamPass's folders (nested_tree) and who may open them: roles (users_roles, roles_values),
 * direct grants (users_groups) and forbidden folders (users_groups_forbidden).
 */
export class FoldersRepository {
  constructor(private readonly db: Database) {}

  /** Every folder that is not personal. */
  async publicFolderIds(): Promise<number[]> {
    return ids(await this.db.knex(this.db.t.nestedTree).select('id').where({ personal_folder: 0 }), 'id');
  }

  async personalFolders(): Promise<FolderRow[]> {
    const rows: Array<Record<string, unknown>> = await this.db.knex(this.db.t.nestedTree).select('id', 'title', 'nleft', 'nright').where({ personal_folder: 1 });
    return rows.map((r) => ({ id: Number(r.id), title: String(r.title ?? ''), nleft: Number(r.nleft), nright: Number(r.nright) }));
  }

  /** Every folder nested below `root`, whatever its own personal_folder flag. */
  async descendantIds(root: FolderRow): Promise<number[]> {
    return ids(await this.db.knex(this.db.t.nestedTree).select('id').where('nleft', '>', root.nleft).andWhere('nright', '<', root.nright), 'id');
  }

  /** The user's roles from the given sources. */
  async roleIds(userId: number, sources: readonly string[]): Promise<number[]> {
    return ids(await this.db.knex(this.db.t.usersRoles).select('role_id').where({ user_id: userId }).whereIn('source', [...sources]), 'role_id');
  }

  /** Folders granted to the user directly. */
  async directGrantIds(userId: number): Promise<number[]> {
    return ids(await this.db.knex(this.db.t.usersGroups).select('group_id').where({ user_id: userId }), 'group_id');
  }

  /** Folders forbidden to the user. */
  async forbiddenIds(userId: number): Promise<number[]> {
    return ids(await this.db.knex(this.db.t.usersGroupsForbidden).select('group_id').where({ user_id: userId }), 'group_id');
  }

  /** For each of `userIds`, the ids in `column` of its rows in `table` (users_roles only from `sources`), in one SELECT. */
  async idsByUser(kind: 'roles' | 'direct' | 'forbidden', userIds: readonly number[], sources: readonly string[] = []): Promise<Map<number, number[]>> {
    const { knex, t } = this.db;
    const [table, column] = kind === 'roles' ? [t.usersRoles, 'role_id'] : kind === 'direct' ? [t.usersGroups, 'group_id'] : [t.usersGroupsForbidden, 'group_id'];
    let query = knex(table).select('user_id', column).whereIn('user_id', [...new Set(userIds)]);
    if (kind === 'roles') query = query.whereIn('source', [...sources]);
    const out = new Map<number, number[]>();
    for (const row of (await query) as Array<Record<string, unknown>>) {
      const [id] = ids([row], column);
      if (id === undefined) continue;
      const userId = Number(row.user_id);
      out.set(userId, [...(out.get(userId) ?? []), id]);
    }
    return out;
  }

  /** roleFolders for several roles at once, each row with its role. */
  async roleFoldersByRole(roleIds: readonly number[], types: readonly string[]): Promise<Array<{ roleId: number; folderId: number; type: string }>> {
    if (roleIds.length === 0) return [];
    const rows: Array<{ role_id: unknown; folder_id: unknown; type: unknown }> = await this.db
      .knex(this.db.t.rolesValues)
      .select('role_id', 'folder_id', 'type')
      .whereIn('role_id', [...new Set(roleIds)])
      .whereIn('type', [...types]);
    return rows.map((r) => ({ roleId: Number(r.role_id), folderId: Number(r.folder_id), type: String(r.type ?? '') }));
  }

  /** The folders the roles open, with the access type, for the given types only. */
  async roleFolders(roleIds: readonly number[], types: readonly string[]): Promise<Array<{ folderId: number; type: string }>> {
    if (roleIds.length === 0) return [];
    const rows: Array<{ folder_id: unknown; type: unknown }> = await this.db
      .knex(this.db.t.rolesValues)
      .select('folder_id', 'type')
      .whereIn('role_id', [...roleIds])
      .whereIn('type', [...types]);
    return rows.map((r) => ({ folderId: Number(r.folder_id), type: String(r.type ?? '') }));
  }

  /** The aggregates for each user that has rows; `types` are trusted constants (they are written into the SQL). */
  async accessAggregates(userIds: readonly number[], sources: readonly string[], types: readonly string[]): Promise<Map<number, AccessAggregates>> {
    const { knex, t } = this.db;
    const out = new Map<number, AccessAggregates>();
    const put = (rows: Array<{ user_id?: unknown; n?: unknown; s?: unknown; s2?: unknown }>, key: keyof AccessAggregates) => {
      for (const row of rows) {
        const userId = Number(row.user_id);
        out.set(userId, { ...out.get(userId), [key]: toAggregate(row) });
      }
    };
    // Each type weighs its folder ids differently, so a type changed in place changes the sum.
    const typeCode = knex.raw(`CASE rv.type ${types.map((type, i) => `WHEN '${type}' THEN ${i + 1}`).join(' ')} ELSE 0 END`);
    for (let i = 0; i < userIds.length; i += CHUNK) {
      const chunk = userIds.slice(i, i + CHUNK);
      put(
        await knex({ ur: t.usersRoles })
          .join({ rv: t.rolesValues }, 'rv.role_id', 'ur.role_id')
          .select('ur.user_id')
          .count({ n: '*' })
          .sum({ s: 'rv.folder_id' })
          .select(knex.raw('SUM(rv.folder_id * (?)) AS s2', [typeCode]))
          .whereIn('ur.user_id', chunk)
          .whereIn('ur.source', [...sources])
          .groupBy('ur.user_id'),
        'roleFolders',
      );
      const tables: Array<[string, string, keyof AccessAggregates, boolean]> = [
        [t.usersRoles, 'role_id', 'roles', true],
        [t.usersGroups, 'group_id', 'directGrants', false],
        [t.usersGroupsForbidden, 'group_id', 'forbidden', false],
      ];
      for (const [table, column, key, bySource] of tables) {
        let query = knex(table)
          .select('user_id')
          .count({ n: '*' })
          .sum({ s: column })
          .select(knex.raw('SUM(?? * ??) AS s2', [column, column]))
          .whereIn('user_id', chunk)
          .groupBy('user_id');
        if (bySource) query = query.whereIn('source', [...sources]);
        put(await query, key);
      }
    }
    return out;
  }
}
