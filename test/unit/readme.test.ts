import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_KEY_NAMES, kebab } from '../../src/config/index.js';
import { ROOT } from '../helpers/cli.js';

describe('README', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

  it('documents every configuration key with its flag', () => {
    for (const key of CONFIG_KEY_NAMES) expect(readme, key).to.contain(`| \`${key}\` | \`--${kebab(key)}\` |`);
  });

  it('holds the demo and the test command', () => {
    expect(readme).to.contain('npm ci && npm run demo');
    expect(readme).to.contain('npm ci && npm test');
  });
});
