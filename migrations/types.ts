import type { Database } from '../src/db/knex.js';

/**
 * A migration plans its SQL from the database's current state, then runs exactly that plan.
 * Planning reads only, so `migrate --dry-run` prints what would run; every statement is
 * idempotent against the state it was planned on, so a run that crashed halfway (MySQL commits
 * DDL implicitly) is finished by the next run.
 */
export interface WsMigration {
  readonly name: string;
  readonly description: string;
  planUp(db: Database): Promise<string[]>;
  planDown(db: Database): Promise<string[]>;
}
