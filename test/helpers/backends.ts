import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectDatabase, parseDbUrl, type Database } from '../../src/db/index.js';
import { mariaDb, type MariaDbServer } from './mariadb.js';

export interface Backend {
  readonly name: 'mariadb' | 'sqlite';
  /** A fresh, empty database: its URL for the CLI (`--db`). */
  newDatabaseUrl(): Promise<string>;
  /** The MariaDB server behind it (for outage tests); undefined for SQLite. */
  readonly server?: MariaDbServer;
}

const tmpDirs: string[] = [];

export function tempDir(prefix = 'tpws-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(dir);
  return dir;
}

export function cleanupTempDirs(): void {
  for (const dir of tmpDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

const sqliteBackend: Backend = {
  name: 'sqlite',
  async newDatabaseUrl() {
    return `sqlite:${path.join(tempDir('tpws-sqlite-'), 'test.sqlite')}`;
  },
};

/**
 * Declares the same suite for MariaDB and SQLite. The MariaDB variant skips only on a developer
 * machine with neither mariadbd nor TEAMPASS_WS_TEST_MYSQL_URL; under CI=true it fails instead.
 */
export function forEachBackend(title: string, body: (backend: () => Backend) => void): void {
  onMariaDb(`${title} [mariadb]`, body);
  describe(`${title} [sqlite]`, function () {
    body(() => sqliteBackend);
  });
}

/** Declares a suite for MariaDB alone (InnoDB's behaviour, a server outage), skipped as above. */
export function onMariaDb(title: string, body: (backend: () => Backend) => void): void {
  describe(title, function () {
    let backend: Backend | undefined;
    before(async function () {
      this.timeout(120_000);
      const server = await mariaDb();
      if (!server) {
        // A developer machine without MariaDB; CI=true makes mariaDb() throw instead.
        this.skip();
      }
      backend = { name: 'mariadb', server, newDatabaseUrl: () => server.createDatabase() };
    });
    body(() => backend!);
  });
}

export async function openTestDatabase(url: string, prefix = 'teampass_'): Promise<Database> {
  return connectDatabase(parseDbUrl(url, 'test'), { prefix });
}
