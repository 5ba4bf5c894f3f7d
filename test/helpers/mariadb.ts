import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { waitFor } from './wait.js';

/**
 * A private MariaDB for the test run: its own datadir, port and socket, started once and shared
 * by every suite. Without mariadbd, TEAMPASS_WS_TEST_MYSQL_URL names a server to use; with CI=true
 * and neither, suites fail instead of skipping.
 */
export interface MariaDbServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** A root URL without a database. */
  readonly baseUrl: string;
  /** Its unix socket, when it has one on this machine. */
  readonly socketPath: string | undefined;
  /** Creates an empty database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server (for outage tests); `start` brings the same data back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  readonly managed: boolean;
}

interface RunState {
  shared: Promise<MariaDbServer | null> | undefined;
  managed: ManagedMariaDb | undefined;
}
const RUN = Symbol.for('teampass-ws test MariaDB');

const SEARCH = ['/usr/sbin/mariadbd', '/usr/bin/mariadbd', '/usr/sbin/mysqld', '/usr/local/bin/mariadbd'];

function findBinary(name: string, extra: string[]): string | undefined {
  for (const p of extra) if (existsSync(p)) return p;
  const which = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() || undefined : undefined;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function privateTmp(dir: string): string {
  const tmp = path.join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  return tmp;
}

let counter = 0;
function uniqueName(): string {
  counter += 1;
  return `tpws_${process.pid}_${Date.now().toString(36)}_${counter}`;
}

async function createDb(baseUrl: string, name: string): Promise<string> {
  const conn = await mysql.createConnection(baseUrl);
  try {
    await conn.query(`CREATE DATABASE \`${name}\` DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await conn.end();
  }
  return `${baseUrl.replace(/\/$/, '')}/${name}`;
}

class ManagedMariaDb implements MariaDbServer {
  readonly host = '127.0.0.1';
  readonly user = 'root';
  readonly password = '';
  readonly managed = true;
  private child?: ChildProcess;
  constructor(
    private readonly binary: string,
    private readonly dir: string,
    readonly port: number,
  ) {}

  get baseUrl(): string {
    return `mysql://root@127.0.0.1:${this.port}/`;
  }

  get socketPath(): string {
    return path.join(this.dir, 'mysqld.sock');
  }

  createDatabase(name = uniqueName()): Promise<string> {
    return createDb(this.baseUrl, name);
  }

  async start(): Promise<void> {
    if (this.child) return;
    const args = [
      `--no-defaults`,
      `--datadir=${path.join(this.dir, 'data')}`,
      `--port=${this.port}`,
      `--bind-address=127.0.0.1`,
      `--socket=${this.socketPath}`,
      `--pid-file=${path.join(this.dir, 'mysqld.pid')}`,
      `--log-error=${path.join(this.dir, 'error.log')}`,
      '--skip-name-resolve',
      '--innodb-buffer-pool-size=64M',
      '--innodb-log-file-size=16M',
      '--innodb-flush-log-at-trx-commit=2',
      '--max-connections=500',
      `--tmpdir=${privateTmp(this.dir)}`,
      ...(process.getuid?.() === 0 ? ['--user=root'] : []),
    ];
    const child = spawn(this.binary, args, { stdio: 'ignore' });
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    let refused: Error | undefined;
    const accepts = async (): Promise<boolean> => {
      try {
        const conn = await mysql.createConnection({ host: this.host, port: this.port, user: 'root' });
        await conn.end();
        return true;
      } catch (err) {
        if (!this.child) throw new Error(`mariadbd exited at start; see ${path.join(this.dir, 'error.log')}`);
        refused = err as Error;
        return false;
      }
    };
    await waitFor(accepts, () => `mariadbd accepts connections: ${refused?.message}`, 30_000, 100);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(20_000)]);
    if (this.child === child) child.kill('SIGKILL');
    this.child = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

class ExternalMariaDb implements MariaDbServer {
  readonly managed = false;
  readonly socketPath = undefined;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly baseUrl: string;
  constructor(url: string) {
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port || 3306);
    this.user = decodeURIComponent(u.username);
    this.password = decodeURIComponent(u.password);
    u.pathname = '/';
    this.baseUrl = u.toString();
  }
  createDatabase(name = uniqueName()): Promise<string> {
    return createDb(this.baseUrl, name);
  }
  async stop(): Promise<void> {
    throw new Error('cannot stop an external MariaDB (TEAMPASS_WS_TEST_MYSQL_URL); install mariadb-server for outage tests');
  }
  async start(): Promise<void> {}
}

/**
 * The run's server, kept on globalThis: mocha loads spec files and root hooks as CommonJS
 * (through tsx), and an import() of this file gives an ES module instance of it, whose own
 * variables would boot a second server that the root hook never stops.
 */
const run = ((globalThis as { [RUN]?: RunState })[RUN] ??= { shared: undefined, managed: undefined });

async function boot(): Promise<MariaDbServer | null> {
  const binary = findBinary('mariadbd', SEARCH);
  const installDb = findBinary('mariadb-install-db', ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db']);
  if (binary && installDb) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tpws-mariadb-'));
    const init = spawnSync(
      installDb,
      [
        '--no-defaults',
        `--datadir=${path.join(dir, 'data')}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        ...(process.getuid?.() === 0 ? ['--user=root'] : []),
      ],
      // Its own temporary folder: bootstrap servers of runs started at once collide on shared temp table names.
      { encoding: 'utf8', env: { ...process.env, TMPDIR: privateTmp(dir) } },
    );
    if (init.status !== 0) {
      writeFileSync(path.join(dir, 'install.log'), `${init.stdout}\n${init.stderr}`);
      throw new Error(`mariadb-install-db failed (exit ${init.status}): ${init.stderr.slice(-500)}`);
    }
    const managed = new ManagedMariaDb(binary, dir, await freePort());
    run.managed = managed;
    await managed.start();
    return managed;
  }
  const url = process.env.TEAMPASS_WS_TEST_MYSQL_URL;
  if (url) return new ExternalMariaDb(url);
  if (process.env.CI === 'true') {
    throw new Error('CI=true but MariaDB is not available: install mariadb-server (mariadbd) or set TEAMPASS_WS_TEST_MYSQL_URL');
  }
  return null;
}

/** The shared test server, or null on a developer machine without MariaDB (never in CI). */
export function mariaDb(): Promise<MariaDbServer | null> {
  run.shared ??= boot();
  return run.shared;
}

/** Called once after the whole run (root hook). */
export async function shutdownMariaDb(): Promise<void> {
  await run.managed?.destroy();
  run.managed = undefined;
  run.shared = undefined;
}
