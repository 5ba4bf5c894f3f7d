import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';

/** `npm test` starts with scripts/test-prereqs.mjs: it installs or names the Debian packages the suite drives. */
describe('test prerequisites', () => {
  const script = path.join(ROOT, 'scripts', 'test-prereqs.mjs');

  it('passes quietly when every program the suite drives is there', () => {
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
  });

  it('stops at once with the apt-get line when programs are missing and it cannot install them', () => {
    // A PATH with nothing on it: the programs looked up by name (php, openssl, systemd-analyze) are
    // missing, and so is apt-get, so the script cannot install them and must say what to run.
    const empty = mkdtempSync(path.join(os.tmpdir(), 'tpws-path-'));
    try {
      const r = spawnSync(process.execPath, [script], { encoding: 'utf8', env: { ...process.env, PATH: empty } });
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/→ run as root: apt-get update && apt-get install -y .*php-cli/);
      expect(r.stderr).to.contain('openssl').and.to.contain('systemd');
      expect(r.stderr.trim().split('\n')).to.have.length(2);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
