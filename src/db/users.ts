import type { Database } from './knex.js';
import type { ApiSessionRow, UserRow } from './rows.js';
import { toCount, toNullableNumber, toNullableText } from './values.js';

const USER_COLUMNS = ['id', 'login', 'name', 'lastname', 'admin', 'gestionnaire', 'disabled', 'personal_folder', 'key_tempo', 'session_end', 'deleted_at'];
const CHUNK = 500;

function toUserRow(raw: Record<string, unknown>): UserRow {
  return {
    id: Number(raw.id),
    login: String(raw.login ?? ''),
    name: toNullableText(raw.name),
    lastname: toNullableText(raw.lastname),
    admin: Number(raw.admin ?? 0),
    gestionnaire: Number(raw.gestionnaire ?? 0),
    disabled: Number(raw.disabled ?? 0),
    personal_folder: Number(raw.personal_folder ?? 0),
    key_tempo: toNullableText(raw.key_tempo),
    session_end: toNullableText(raw.session_end),
    deleted_at: toNullableText(raw.deleted_at),
  };
}

/** TeamPass's users and, for its 3.2 API, api_sessions: read only, except by the demo. */
export class UsersRepository {
  constructor(private readonly db: Database) {}

  async tableExists(): Promise<boolean> {
    return this.db.knex.schema.hasTable(this.db.t.users);
  }

  async find(userId: number): Promise<UserRow | undefined> {
    const row: Record<string, unknown> | undefined = await this.db.knex(this.db.t.users).select(USER_COLUMNS).where({ id: userId }).first();
    return row ? toUserRow(row) : undefined;
  }

  async findByLogin(login: string): Promise<UserRow | undefined> {
    const row: Record<string, unknown> | undefined = await this.db.knex(this.db.t.users).select(USER_COLUMNS).where({ login }).first();
    return row ? toUserRow(row) : undefined;
  }

  /** The users that exist among `userIds`, by id. */
  async findMany(userIds: readonly number[]): Promise<Map<number, UserRow>> {
    const out = new Map<number, UserRow>();
    for (let i = 0; i < userIds.length; i += CHUNK) {
      const rows: Array<Record<string, unknown>> = await this.db.knex(this.db.t.users).select(USER_COLUMNS).whereIn('id', userIds.slice(i, i + CHUNK));
      for (const raw of rows) {
        const user = toUserRow(raw);
        out.set(user.id, user);
      }
    }
    return out;
  }

  async count(): Promise<number> {
    const row: { n?: unknown } | undefined = await this.db.knex(this.db.t.users).count({ n: '*' }).first();
    return toCount(row?.n);
  }

  /** False on a TeamPass 3.1 database, which has no API sessions. */
  async hasApiSessions(): Promise<boolean> {
    return this.db.knex.schema.hasTable(this.db.t.apiSessions);
  }

  /** api_sessions rows of these jtis (several rows may share one). */
  async apiSessionsByJti(jtis: readonly string[]): Promise<ApiSessionRow[]> {
    const out: ApiSessionRow[] = [];
    const unique = [...new Set(jtis)];
    for (let i = 0; i < unique.length; i += CHUNK) {
      const rows: Array<Record<string, unknown>> = await this.db
        .knex(this.db.t.apiSessions)
        .select('jti', 'user_id', 'expires_at', 'revoked_at')
        .whereIn('jti', unique.slice(i, i + CHUNK));
      for (const r of rows) {
        out.push({ jti: String(r.jti), userId: Number(r.user_id), expiresAt: Number(r.expires_at ?? 0), revokedAt: toNullableNumber(r.revoked_at) });
      }
    }
    return out;
  }
}
