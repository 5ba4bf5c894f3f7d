import type { Database } from '../db/index.js';

/** The misc (type 'admin') settings the daemon reads; everything else in misc is TeamPass's business. */
export const READ_SETTINGS = ['enable_kb', 'enable_pf_feature', 'cpassman_url', 'api_jwt_secret', 'jwt_secret', 'websocket_enabled'] as const;
export type SettingName = (typeof READ_SETTINGS)[number];

export interface SettingValue {
  value: string;
  /** TeamPass marks some misc values as encrypted with its defuse key. */
  encrypted: boolean;
}

/**
 * A snapshot of TeamPass's admin settings, refreshed periodically, so per-connection checks
 * (origin, KB channel, JWT secret) never wait on the database.
 */
export class MiscSettings {
  private values = new Map<SettingName, SettingValue>();
  private hasEncryptedColumn: boolean | undefined;

  constructor(private readonly db: Database) {}

  async refresh(): Promise<void> {
    const { knex, t } = this.db;
    if (!(await knex.schema.hasTable(t.misc))) {
      this.values = new Map();
      return;
    }
    this.hasEncryptedColumn ??= await knex.schema.hasColumn(t.misc, 'is_encrypted');
    const columns = ['intitule', 'valeur', ...(this.hasEncryptedColumn ? ['is_encrypted'] : [])];
    const rows = (await knex(t.misc)
      .select(columns)
      .where({ type: 'admin' })
      .whereIn('intitule', [...READ_SETTINGS])
      .orderBy('increment_id', 'asc')) as Array<{ intitule: SettingName; valeur: string | null; is_encrypted?: number | string | null }>;
    const next = new Map<SettingName, SettingValue>();
    for (const row of rows) next.set(row.intitule, { value: row.valeur ?? '', encrypted: Number(row.is_encrypted ?? 0) === 1 });
    this.values = next;
  }

  get(name: SettingName): SettingValue | undefined {
    return this.values.get(name);
  }

  value(name: SettingName): string {
    return this.values.get(name)?.value ?? '';
  }

  /** TeamPass stores switches as '1' / '0'. */
  enabled(name: SettingName): boolean {
    return this.value(name).trim() === '1';
  }
}
