import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { ROOT, runNode } from '../helpers/cli.js';
import { mariaDb } from '../helpers/mariadb.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('test harness: the private MariaDB of a run', function () {
  this.timeout(120_000);

  it('is stopped and its datadir removed when the run ends', async function () {
    // The same condition as every MariaDB suite: none on a developer machine without it, never in CI.
    if (!(await mariaDb())?.socketPath) this.skip();
    // With the project's mocha configuration, so its root hooks run.
    const fixture = 'test/helpers/harness-fixture/shared-mariadb.fixture.ts';
    const run = await runNode([path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'), fixture], `mocha ${fixture}`, { timeoutMs: 90_000 });
    const output = run.stdout + run.stderr;
    expect(run.code, output).to.equal(0);
    const line = /FIXTURE_MARIADB (\{.*\})/.exec(output);
    expect(line, output).to.not.equal(null);
    const { dir, pid } = JSON.parse(line![1]!) as { dir: string; pid: number };
    const stillRunning = alive(pid);
    if (stillRunning) process.kill(pid, 'SIGKILL');
    expect(stillRunning, `mariadbd ${pid} still runs after the mocha run ended`).to.equal(false);
    expect(existsSync(dir), `${dir} is still there`).to.equal(false);
  });
});
