import type { Database } from './knex.js';
import type { SettingRow } from './rows.js';

/**
 * TeamPass's misc table, type 'admin' rows: the settings TeamPass's admin panel writes. Every
 * reader of those settings goes through here.
 */
export class SettingsRepository {
  private hasEncryptedColumn: Promise<boolean> | undefined;

  constructor(private readonly db: Database) {}

  /** False on a database without TeamPass's misc table (an empty or foreign database). */
  async tableExists(): Promise<boolean> {
    return this.db.knex.schema.hasTable(this.db.t.misc);
  }

  /** The named settings that exist, in row order (a later duplicate wins when put in a map); [] without the table. */
  async readMany<Name extends string>(names: readonly Name[]): Promise<Array<SettingRow<Name>>> {
    const { knex, t } = this.db;
    if (names.length === 0 || !(await this.tableExists())) return [];
    this.hasEncryptedColumn ??= knex.schema.hasColumn(t.misc, 'is_encrypted');
    const columns = ['intitule', 'valeur', ...((await this.hasEncryptedColumn) ? ['is_encrypted'] : [])];
    const rows: Array<{ intitule: unknown; valeur: unknown; is_encrypted?: unknown }> = await knex(t.misc)
      .select(columns)
      .where({ type: 'admin' })
      .whereIn('intitule', [...names])
      .orderBy('increment_id', 'asc');
    const out: Array<SettingRow<Name>> = [];
    for (const r of rows) {
      const name = names.find((n) => n === String(r.intitule));
      if (name !== undefined) out.push({ name, value: String(r.valeur ?? ''), encrypted: Number(r.is_encrypted ?? 0) === 1 });
    }
    return out;
  }

  /** One setting's value; null when the misc table or the row is absent. */
  async read(name: string): Promise<string | null> {
    if (!(await this.tableExists())) return null;
    const row: { valeur: unknown } | undefined = await this.db.knex(this.db.t.misc).where({ type: 'admin', intitule: name }).first('valeur');
    return row ? String(row.valeur ?? '') : null;
  }

  /** Sets a setting the way TeamPass's admin panel stores it. */
  async write(name: string, value: string): Promise<void> {
    const { knex, t } = this.db;
    const updated = await knex(t.misc).where({ type: 'admin', intitule: name }).update({ valeur: value });
    if (!updated) await knex(t.misc).insert({ type: 'admin', intitule: name, valeur: value });
  }
}

/** Sets a misc admin setting the way TeamPass's admin panel stores it. */
export async function setTeampassSetting(db: Database, name: string, value: string): Promise<void> {
  return new SettingsRepository(db).write(name, value);
}
