import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_KEY_NAMES, kebab } from '../../src/config/index.js';
import { ROOT } from '../helpers/cli.js';
import { buildProgram } from '../../commands/index.js';

describe('README', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

  it('documents every configuration key with its flag', () => {
    for (const key of CONFIG_KEY_NAMES) expect(readme, key).to.contain(`| \`${key}\` | \`--${kebab(key)}\` |`);
  });

  it('holds the demo and the test command', () => {
    expect(readme).to.contain('npm ci && npm run demo');
    expect(readme).to.contain('npm ci && npm test');
  });

  it('has a section for every command', () => {
    const program = buildProgram({ out: { line() {}, info() {}, ok() {}, warn() {}, error() {}, json() {} }, exitCode: 0 });
    const headings = readme.split('\n').filter((l) => /^#{2,3} /.test(l));
    for (const cmd of program.commands) {
      expect(headings.some((h) => h.includes(`teampass-ws ${cmd.name()}`) || h.startsWith(`## ${cmd.name()}`)), cmd.name()).to.equal(true);
    }
  });

  it('says how to replace the PHP daemon, roll back and uninstall', () => {
    const section = readme.slice(readme.indexOf('## Replacing the PHP daemon'));
    expect(readme).to.contain('## Replacing the PHP daemon');
    for (const text of ['systemctl disable --now teampass-websocket', 'install-systemd', '--force --enable', 'admin panel', '**Rolling back**', '**Uninstalling teampass-ws**']) {
      expect(section, text).to.contain(text);
    }
  });
});
