import type { Database } from './knex.js';

/** The cheapest query: proves the database answers. */
export async function ping(db: Database): Promise<void> {
  await db.knex.raw('select 1');
}

/** The server's version string, e.g. '10.11.6-MariaDB' or SQLite's '3.45.1'. */
export async function serverVersion(db: Database): Promise<string> {
  if (db.client === 'mysql') {
    const [rows = []]: Array<Array<{ v?: unknown }>> = await db.knex.raw('select version() as v');
    return String(rows[0]?.v ?? '?');
  }
  const rows: Array<{ v?: unknown }> = await db.knex.raw('select sqlite_version() as v');
  return String(rows[0]?.v ?? '?');
}

/** knex prints pool warnings with console.log; a caller that reports failures itself turns them off. */
export function silenceDriverWarnings(db: Database): void {
  const client: { logger?: { warn?: (message: string) => void } } = db.knex.client;
  if (client.logger) client.logger.warn = () => undefined;
}

/** Which of `tables` the database lacks. */
export async function missingTables(db: Database, tables: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const table of tables) if (!(await db.knex.schema.hasTable(table))) missing.push(table);
  return missing;
}
