import { TeampassWsError } from '../errors.js';
import type { Database } from './knex.js';

/**
 * The columns the daemon reads and writes in the websocket tables: TeamPass's installer
 * (3.1.7+, 3.2) creates them all, so serve runs on its tables as they are.
 */
const REQUIRED_COLUMNS = {
  events: ['id', 'created_at', 'event_type', 'target_type', 'target_id', 'payload', 'processed', 'processed_at'],
  connections: ['id', 'user_id', 'resource_id', 'connected_at', 'disconnected_at', 'ip_address', 'user_agent'],
  tokens: ['id', 'user_id', 'token', 'created_at', 'expires_at', 'used'],
} as const;

/** What serve needs and the database lacks: 'table (missing)' or 'table.column'. */
export async function missingWebsocketColumns(db: Database): Promise<string[]> {
  const missing: string[] = [];
  for (const [logical, columns] of Object.entries(REQUIRED_COLUMNS) as Array<[keyof typeof REQUIRED_COLUMNS, readonly string[]]>) {
    const table = db.t[logical];
    if (!(await db.knex.schema.hasTable(table))) {
      missing.push(`${table} (missing)`);
      continue;
    }
    const present = new Set(Object.keys(await db.knex(table).columnInfo()).map((c) => c.toLowerCase()));
    for (const column of columns) if (!present.has(column)) missing.push(`${table}.${column}`);
  }
  return missing;
}

/** Serve never changes the schema itself: it refuses, in one line, tables it cannot work with. */
export async function requireWebsocketTables(db: Database): Promise<void> {
  const missing = await missingWebsocketColumns(db);
  if (missing.length === 0) return;
  throw new TeampassWsError(
    'MIGRATION',
    `The websocket tables of ${db.description} lack ${missing.join(', ')}: run \`teampass-ws migrate\` with the same database options, then start serve again.`,
  );
}
