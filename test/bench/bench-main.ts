import path from 'node:path';
import { cleanupTempDirs, tempDir } from '../helpers/backends.js';
import { shutdownMariaDb, type MariaDbServer } from '../helpers/mariadb.js';
import { killChildren } from './children.js';
import { BenchInputError } from './env-options.js';

/**
 * A fresh, empty database on the run's MariaDB, or a SQLite file where there is none. The
 * daemon reaches a local MariaDB over its unix socket, as it does on a TeamPass host whose
 * settings.php says DB_HOST localhost (PHP's mysqli takes the socket for that name too).
 */
export function databaseFactory(server: MariaDbServer | null): () => Promise<string> {
  return async () => {
    if (!server) return `sqlite:${path.join(tempDir('tpws-bench-'), 'bench.sqlite')}`;
    const url = await server.createDatabase();
    return server.socketPath ? `${url}?socket=${encodeURIComponent(server.socketPath)}` : url;
  };
}

async function cleanUp(): Promise<void> {
  killChildren();
  await shutdownMariaDb();
  cleanupTempDirs();
}

/**
 * Runs a bench script's `main` to its end, then stops every process it started and the private
 * MariaDB. A watchdog ends a run that hangs, and an interrupt leaves nothing behind. `main`
 * resolves with the exit code (non-zero: the run's verdict failed); a thrown BenchInputError is
 * printed as its one line.
 */
export function runBench(name: string, watchdogMs: number, main: () => Promise<number>): void {
  const watchdog = setTimeout(() => {
    console.error(`${name} failed: still running after ${Math.round(watchdogMs / 60_000)} minutes`);
    void cleanUp().finally(() => process.exit(1));
  }, watchdogMs);
  watchdog.unref();

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void cleanUp().finally(() => process.exit(130));
    });
  }

  main()
    .then((code) => {
      process.exitCode = code;
    })
    .catch((err: Error) => {
      console.error(`${name} failed: ${err instanceof BenchInputError ? err.message : (err.stack ?? err.message)}`);
      process.exitCode = 1;
    })
    .finally(() => cleanUp());
}
