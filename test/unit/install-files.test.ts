import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';

describe('what an install needs', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { license: string; allowScripts?: Record<string, boolean> };
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

  it('ships the GPL-3.0 text that package.json names', () => {
    expect(pkg.license).to.equal('GPL-3.0-or-later');
    expect(existsSync(path.join(ROOT, 'LICENSE')), 'LICENSE').to.equal(true);
    const license = readFileSync(path.join(ROOT, 'LICENSE'), 'utf8');
    expect(license).to.contain('GNU GENERAL PUBLIC LICENSE');
    expect(license).to.contain('Version 3, 29 June 2007');
    expect(license).to.contain('END OF TERMS AND CONDITIONS');
  });

  it('decides every dependency install script npm asks about', () => {
    // better-sqlite3 compiles or fetches its native module; esbuild's only checks its binary.
    expect(pkg.allowScripts).to.have.property('better-sqlite3');
    expect(pkg.allowScripts).to.have.property('esbuild');
  });

  it('names the build tools better-sqlite3 needs where no prebuilt binary fits', () => {
    const requirements = readme.split('\n').filter((l) => /python3/.test(l)).join('\n');
    for (const tool of ['python3', 'make', 'g++']) expect(requirements, tool).to.contain(tool);
  });
});
