import type { Database } from './knex.js';

/** A TeamPass setting (misc row of type admin); null when TeamPass's misc table or the row is absent. */
export async function readTeampassSetting(db: Database, name: string): Promise<string | null> {
  if (!(await db.knex.schema.hasTable(db.t.misc))) return null;
  const row = (await db.knex(db.t.misc).where({ type: 'admin', intitule: name }).first('valeur')) as { valeur: string | null } | undefined;
  return row ? String(row.valeur ?? '') : null;
}

/** Sets a misc admin setting the way TeamPass's admin panel stores it. */
export async function setTeampassSetting(db: Database, name: string, value: string): Promise<void> {
  const updated = await db.knex(db.t.misc).where({ type: 'admin', intitule: name }).update({ valeur: value });
  if (!updated) await db.knex(db.t.misc).insert({ type: 'admin', intitule: name, valeur: value });
}
