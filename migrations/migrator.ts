import type { Knex } from 'knex';
import { setTimeout as sleep } from 'node:timers/promises';
import { MIGRATIONS, type WsMigration } from './index.js';
import { TeampassWsError } from '../src/errors.js';
import { databaseError, type Database } from '../src/db/knex.js';

export interface MigrationStatus {
  name: string;
  description: string;
  applied: boolean;
  batch?: number;
  appliedAt?: string;
}

export interface MigrationPlan {
  name: string;
  statements: string[];
}

interface Runnable {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

class WsMigrationSource implements Knex.MigrationSource<WsMigration> {
  constructor(private readonly db: Database) {}
  async getMigrations(): Promise<WsMigration[]> {
    return [...MIGRATIONS];
  }
  getMigrationName(migration: WsMigration): string {
    return migration.name;
  }
  async getMigration(migration: WsMigration): Promise<Runnable> {
    // knex hands each migration its transaction; planning and running go through it, so SQLite's
    // single connection is never asked for twice.
    const on = (knex: Knex): Database => ({ ...this.db, knex });
    const run = async (knex: Knex, statements: string[]) => {
      for (const sql of statements) await knex.raw(sql);
    };
    return {
      up: async (knex) => run(knex, await migration.planUp(on(knex))),
      down: async (knex) => run(knex, await migration.planDown(on(knex))),
    };
  }
}

const LOCK_WAIT_MS = 30_000;

/**
 * Runs this project's migrations with knex's migrator: bookkeeping in <prefix>ws_migrations
 * (and its _lock table, which keeps two runs at once from interleaving).
 */
export class Migrator {
  constructor(private readonly db: Database) {}

  private config(): Knex.MigratorConfig {
    return {
      migrationSource: new WsMigrationSource(this.db),
      tableName: this.db.t.migrations,
      // One transaction for the batch makes knex re-read the applied list after it holds the
      // lock, so a run that waited for another never applies a migration twice. MySQL still
      // commits DDL implicitly; each migration is re-runnable for that reason.
      disableTransactions: false,
    };
  }

  /** Retries while another run holds the lock, and while racing runs create the bookkeeping tables. */
  private async withLockRetry<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        const message = (err as Error).message ?? '';
        const retryable =
          (err as Error).name === 'MigrationLocked' ||
          /already locked|already exists|ER_TABLE_EXISTS_ERROR|Duplicate entry|SQLITE_BUSY|database is locked/i.test(message);
        if (!retryable || Date.now() > deadline) {
          if ((err as Error).name === 'MigrationLocked') {
            throw new TeampassWsError('MIGRATION', `Another migrate run has held the lock in ${this.db.t.migrations}_lock for ${LOCK_WAIT_MS / 1000} s.`, {
              suggestion: `If no other migrate is running (a crashed run leaves the lock), clear it: UPDATE ${this.db.t.migrations}_lock SET is_locked = 0.`,
              cause: err,
            });
          }
          throw err instanceof TeampassWsError ? err : databaseError(err, this.db);
        }
        await sleep(100 + Math.random() * 200);
      }
    }
  }

  async status(): Promise<MigrationStatus[]> {
    const applied = new Map<string, { batch: number; migration_time: unknown }>();
    if (await this.db.knex.schema.hasTable(this.db.t.migrations)) {
      const rows = (await this.db.knex(this.db.t.migrations).select('name', 'batch', 'migration_time')) as Array<{ name: string; batch: number; migration_time: unknown }>;
      for (const row of rows) applied.set(row.name, row);
    }
    return MIGRATIONS.map((m) => {
      const row = applied.get(m.name);
      return {
        name: m.name,
        description: m.description,
        applied: Boolean(row),
        ...(row ? { batch: Number(row.batch), appliedAt: formatTime(row.migration_time) } : {}),
      };
    });
  }

  async pending(): Promise<WsMigration[]> {
    const status = await this.status();
    return MIGRATIONS.filter((m) => !status.find((s) => s.name === m.name)?.applied);
  }

  /** The SQL `latest` would run now, without running it. */
  async planLatest(): Promise<MigrationPlan[]> {
    const out: MigrationPlan[] = [];
    for (const m of await this.pending()) out.push({ name: m.name, statements: await m.planUp(this.db) });
    return out;
  }

  /** The SQL `rollback` would run now, without running it. */
  async planRollback(): Promise<MigrationPlan[]> {
    const last = await this.lastBatch();
    const out: MigrationPlan[] = [];
    for (const m of [...MIGRATIONS].reverse()) {
      if (last.includes(m.name)) out.push({ name: m.name, statements: await m.planDown(this.db) });
    }
    return out;
  }

  private async lastBatch(): Promise<string[]> {
    const status = await this.status();
    const batches = status.filter((s) => s.applied).map((s) => s.batch ?? 0);
    if (batches.length === 0) return [];
    const max = Math.max(...batches);
    return status.filter((s) => s.applied && s.batch === max).map((s) => s.name);
  }

  /**
   * Creates knex's bookkeeping and lock tables race-free before knex looks at them: knex checks
   * then creates, so two first runs at once could each insert a lock row, and a lock table with
   * two rows can never be locked again.
   */
  private async ensureBookkeeping(): Promise<void> {
    const q = (n: string) => (this.db.client === 'mysql' ? `\`${n}\`` : `"${n}"`);
    const table = this.db.t.migrations;
    const lock = `${table}_lock`;
    const statements =
      this.db.client === 'mysql'
        ? [
            `CREATE TABLE IF NOT EXISTS ${q(table)} (${q('id')} INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, ${q('name')} VARCHAR(255), ${q('batch')} INT, ${q('migration_time')} TIMESTAMP NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
            `CREATE TABLE IF NOT EXISTS ${q(lock)} (${q('index')} INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, ${q('is_locked')} INT) ENGINE=InnoDB`,
            `INSERT IGNORE INTO ${q(lock)} (${q('index')}, ${q('is_locked')}) VALUES (1, 0)`,
          ]
        : [
            `CREATE TABLE IF NOT EXISTS ${q(table)} (${q('id')} INTEGER PRIMARY KEY AUTOINCREMENT, ${q('name')} VARCHAR(255), ${q('batch')} INTEGER, ${q('migration_time')} DATETIME)`,
            `CREATE TABLE IF NOT EXISTS ${q(lock)} (${q('index')} INTEGER PRIMARY KEY AUTOINCREMENT, ${q('is_locked')} INTEGER)`,
            `INSERT OR IGNORE INTO ${q(lock)} (${q('index')}, ${q('is_locked')}) VALUES (1, 0)`,
          ];
    for (const sql of statements) await this.db.knex.raw(sql);
    // A second lock row left by an earlier race is what makes knex report the table locked forever.
    await this.db.knex(lock).where('index', '>', 1).delete();
  }

  async latest(): Promise<string[]> {
    return this.withLockRetry(async () => {
      await this.ensureBookkeeping();
      const [, names] = (await this.db.knex.migrate.latest(this.config())) as [number, string[]];
      return names;
    });
  }

  async rollback(): Promise<string[]> {
    return this.withLockRetry(async () => {
      await this.ensureBookkeeping();
      const [, names] = (await this.db.knex.migrate.rollback(this.config())) as [number, string[]];
      return names;
    });
  }

  /** Rows that a rollback would drop with the websocket tables. */
  async rowCounts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const table of [this.db.t.events, this.db.t.connections, this.db.t.tokens]) {
      if (!(await this.db.knex.schema.hasTable(table))) continue;
      const row = (await this.db.knex(table).count({ n: '*' }).first()) as { n: number | string } | undefined;
      out[table] = Number(row?.n ?? 0);
    }
    return out;
  }
}

function formatTime(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number') return new Date(value).toISOString();
  return String(value ?? '');
}
