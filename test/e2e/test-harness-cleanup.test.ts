import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { ROOT } from '../helpers/cli.js';
import { mariaDb } from '../helpers/mariadb.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs mocha on one file as a process, with the project's configuration (its root hooks). */
function runMocha(file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'), file], { cwd: ROOT, stdio: 'pipe' });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('test harness: the private MariaDB of a run', function () {
  this.timeout(120_000);

  it('is stopped and its datadir removed when the run ends', async function () {
    // The same condition as every MariaDB suite: none on a developer machine without it, never in CI.
    if (!(await mariaDb())?.socketPath) this.skip();
    const run = await runMocha('test/helpers/harness-fixture/shared-mariadb.fixture.ts');
    expect(run.code, run.output).to.equal(0);
    const line = /FIXTURE_MARIADB (\{.*\})/.exec(run.output);
    expect(line, run.output).to.not.equal(null);
    const { dir, pid } = JSON.parse(line![1]!) as { dir: string; pid: number };
    const stillRunning = alive(pid);
    if (stillRunning) process.kill(pid, 'SIGKILL');
    expect(stillRunning, `mariadbd ${pid} still runs after the mocha run ended`).to.equal(false);
    expect(existsSync(dir), `${dir} is still there`).to.equal(false);
  });
});
