import { missingTables, type Database } from '../db/index.js';

export interface TeampassTables {
  /** TeamPass's users and misc tables under the configured prefix that the database lacks. */
  missing: string[];
  /** Set when neither is there: likely the wrong database or prefix. */
  warning?: { text: string; fix: string };
}

/**
 * Whether the database looks like TeamPass's: migrate still works without its tables (the
 * websocket tables stand alone), but then nobody can authenticate and no settings row is seeded.
 */
export async function surveyTeampassTables(db: Database): Promise<TeampassTables> {
  const wanted = [db.t.users, db.t.misc];
  const missing = await missingTables(db, wanted);
  if (missing.length < wanted.length) return { missing };
  return {
    missing,
    warning: {
      text: `${db.description} holds no TeamPass tables (${missing.map((t) => `no ${t}`).join(', ')}): the websocket tables would stand alone, no settings rows are seeded, and every authentication fails.`,
      fix: "Check the database name and the table prefix (TeamPass's DB_PREFIX, --prefix), or use --teampass-root.",
    },
  };
}
