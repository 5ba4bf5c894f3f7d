import { existsSync } from 'node:fs';
import { indexColumns } from '../../migrations/inspect.js';
import { createDatabase, databaseError, embeddedTarget, EventsRepository, serverVersion, silenceDriverWarnings } from '../db/index.js';
import { Migrator } from '../../migrations/migrator.js';
import { skipped, type CheckDef, type CheckVerdict } from './check-types.js';
import { SettingsRepository } from '../db/misc.js';

const PROBE_TIMEOUT_MS = 5000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const databaseCheck: CheckDef = {
  id: 'database',
  title: 'Database',
  async run(state): Promise<CheckVerdict> {
    const loaded = state.loaded;
    if (!loaded) return skipped('the configuration is invalid');
    if (state.teampassError) return skipped("TeamPass's settings, which name it, could not be read");
    let target = loaded.dbTarget;
    if (!target) {
      target = embeddedTarget(state.input.cwd);
      if (target.client === 'sqlite' && !existsSync(target.filename)) {
        return {
          status: 'warning',
          detail: `none configured: serve would create the embedded demo database ${target.filename}, not connected to TeamPass`,
          fix: 'For TeamPass, give --teampass-root /var/www/html/TeamPass (or --db mysql://user:pass@host/teampass) or put it in the config file.',
        };
      }
      state.embedded = true;
    }
    const db = createDatabase(target, { prefix: loaded.config.prefix, poolMax: 1, acquireTimeoutMs: PROBE_TIMEOUT_MS });
    // Pool warnings would land in the report (and in --json); the failure itself is reported by this check.
    silenceDriverWarnings(db);
    let version: string;
    try {
      version = await withTimeout(serverVersion(db), PROBE_TIMEOUT_MS);
    } catch (err) {
      await db.close().catch(() => undefined);
      const e = databaseError(err, db);
      return { status: 'error', detail: e.message, fix: e.suggestion };
    }
    state.db = db;
    const engine = db.client === 'mysql' ? (/mariadb/i.test(version) ? `MariaDB ${version.split('-')[0]}` : `MySQL ${version}`) : `SQLite ${version}`;
    if (state.embedded) {
      return {
        status: 'warning',
        detail: `the embedded demo database ${db.description} (${engine}): not connected to TeamPass`,
        fix: 'For TeamPass, give --teampass-root or --db (or put it in the config file).',
      };
    }
    return { status: 'ok', detail: `${db.description} reachable (${engine})` };
  },
};

const migrationsCheck: CheckDef = {
  id: 'migrations',
  title: 'Migrations',
  async run(state) {
    if (!state.db) return skipped('no database');
    const status = await new Migrator(state.db).status();
    const pending = status.filter((s) => !s.applied);
    if (pending.length === 0) return { status: 'ok', detail: `all ${status.length} applied` };
    return {
      status: 'error',
      detail: `${pending.length} of ${status.length} pending: ${pending.map((p) => p.name).join(', ')}`,
      fix: 'Run `teampass-ws migrate` with the same --config / --teampass-root / --db (it adopts tables TeamPass already created).',
    };
  },
};

const EVENTS_INDEXES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['idx_unprocessed', ['processed', 'created_at']],
  ['idx_cleanup', ['processed', 'processed_at']],
];

const indexesCheck: CheckDef = {
  id: 'indexes',
  title: 'Events indexes',
  async run(state) {
    const db = state.db;
    if (!db) return skipped('no database');
    if (!(await new EventsRepository(db).tableExists())) {
      return { status: 'error', detail: `${db.t.events} does not exist`, fix: 'Run `teampass-ws migrate`.' };
    }
    const existing = await indexColumns(db, db.t.events);
    // SQLite index names are global to the database, so the migration prefixes them with the table.
    const name = (index: string) => (db.client === 'mysql' ? index : `${db.t.events}_${index}`);
    const missing = EVENTS_INDEXES.filter(([index, cols]) => existing.get(name(index))?.join(',') !== cols.join(','));
    if (missing.length === 0) return { status: 'ok', detail: `${EVENTS_INDEXES.map(([i, c]) => `${i} (${c.join(', ')})`).join(' and ')} on ${db.t.events}` };
    return {
      status: 'error',
      detail: `${missing.map(([i, c]) => `${i} (${c.join(', ')})`).join(' and ')} missing or on other columns in ${db.t.events}: polling and cleanup scan the whole table (TeamPass's health page warns about it too)`,
      fix: 'Run `teampass-ws migrate`: it creates or rebuilds them without touching the rows.',
    };
  },
};

const enabledCheck: CheckDef = {
  id: 'websocket_enabled',
  title: 'websocket_enabled',
  async run(state) {
    const db = state.db;
    if (!db) return skipped('no database');
    const value = await new SettingsRepository(db).read('websocket_enabled');
    const sql = `UPDATE ${db.t.misc} SET valeur = '1' WHERE type = 'admin' AND intitule = 'websocket_enabled';`;
    if (value === '1') return { status: 'ok', detail: "'1' in TeamPass's settings: its pages connect and its producers write events" };
    if (value === null) {
      return {
        status: 'warning',
        detail: `no websocket_enabled row in ${db.t.misc}${(await new SettingsRepository(db).tableExists()) ? '' : ' (no such table: is this TeamPass\'s database?)'}`,
        fix: 'Run `teampass-ws migrate` (it adds the row), then enable WebSocket in TeamPass\'s administration settings.',
      };
    }
    return {
      status: 'warning',
      detail: `'${value}': TeamPass's pages do not connect and its producers write no events`,
      fix: `Enable WebSocket in TeamPass's administration settings, or: ${sql}`,
    };
  },
};

const panelCheck: CheckDef = {
  id: 'admin_panel',
  title: 'Admin panel port',
  async run(state) {
    const db = state.db;
    if (!db || !state.loaded) return skipped('no database');
    const port = await new SettingsRepository(db).read('websocket_port');
    if (port === null) return skipped('TeamPass has no websocket_port setting here');
    if (Number(port) === state.loaded.config.port) return { status: 'ok', detail: `TeamPass looks for the daemon on port ${port}, where it listens` };
    return {
      status: 'warning',
      detail: `TeamPass's websocket_port is ${port}, the daemon listens on ${state.loaded.config.port}: the admin panel shows it as stopped`,
      fix: `Set the same port in both: --port ${port}, or websocket_port = ${state.loaded.config.port} in TeamPass's settings.`,
    };
  },
};

export function databaseChecks(): CheckDef[] {
  return [databaseCheck, migrationsCheck, indexesCheck, enabledCheck, panelCheck];
}
