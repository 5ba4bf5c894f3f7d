// Runs before `npm test`: the suite drives real programs from Debian's packages (a private
// MariaDB, headless Chromium, nginx/apache2/php/systemd-analyze for the templates and the unit, ss for the listen backlog).
// As root with apt-get, what is missing is installed here; otherwise the run stops at once with
// the one command that installs it, instead of failing tests one by one later.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';

/** Debian package → the program the tests run from it (any of the paths, or the name on PATH). */
const NEEDED = [
  { pkg: 'mariadb-server', programs: ['/usr/sbin/mariadbd', '/usr/bin/mariadbd', 'mariadbd'], skipWhen: 'TEAMPASS_WS_TEST_MYSQL_URL' },
  { pkg: 'chromium', programs: ['/usr/bin/chromium'] },
  { pkg: 'systemd', programs: ['systemd-analyze'] },
  { pkg: 'nginx-light', programs: ['/usr/sbin/nginx', 'nginx'] },
  { pkg: 'apache2', programs: ['/usr/sbin/apache2'] },
  { pkg: 'php-cli', programs: ['php'] },
  { pkg: 'openssl', programs: ['openssl'] },
  { pkg: 'iproute2', programs: ['ss'] },
];

function onPath(name) {
  return spawnSync('/bin/sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function present(program) {
  return program.startsWith('/') ? existsSync(program) : onPath(program);
}

const missing = NEEDED.filter(({ programs, skipWhen }) => !(skipWhen && process.env[skipWhen]) && !programs.some(present)).map(({ pkg }) => pkg);
if (missing.length === 0) process.exit(0);

const installLine = `apt-get update && apt-get install -y ${missing.join(' ')}`;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot || !onPath('apt-get')) {
  console.error(`The test suite needs Debian packages that are missing: ${missing.join(', ')}.`);
  console.error(`→ run as root: ${installLine}`);
  process.exit(1);
}

console.error(`Installing what the test suite needs: ${missing.join(' ')} (apt-get, about 2 minutes)…`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
// The packages must not start their services: the tests start what they need themselves.
const policy = '/usr/sbin/policy-rc.d';
const ownPolicy = !existsSync(policy);
if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
let status = 1;
try {
  const update = spawnSync('apt-get', ['update', '-qq'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  if (update.status === 0) {
    const install = spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { env, encoding: 'utf8' });
    status = install.status ?? 1;
    if (status !== 0) console.error((install.stdout + install.stderr).split('\n').slice(-30).join('\n'));
  }
} finally {
  if (ownPolicy) rmSync(policy, { force: true });
}
if (status !== 0) {
  console.error(`Installing ${missing.join(' ')} failed.`);
  console.error(`→ run as root: ${installLine}`);
  process.exit(1);
}
