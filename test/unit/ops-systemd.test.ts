import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { nofileFor, quoteExecWord, renderUnit, type UnitSpec } from '../../src/ops/systemd.js';
import { cleanupTempDirs, tempDir } from '../helpers/backends.js';
import { BIN } from '../helpers/cli.js';

const spec = (overrides: Partial<UnitSpec> = {}): UnitSpec => ({
  nodePath: '/usr/bin/node',
  binPath: '/opt/teampass-ws/bin/teampass-ws',
  args: ['serve'],
  user: 'www-data',
  workingDirectory: '/opt/teampass-ws',
  limitNofile: 11264,
  writablePaths: [],
  logsDirectories: [],
  protectHome: 'yes',
  bindPrivilegedPort: false,
  ...overrides,
});

describe('systemd unit rendering', () => {
  after(cleanupTempDirs);

  it('sizes LimitNOFILE for the connections plus headroom', () => {
    expect(nofileFor(10_000)).to.equal(11_264);
    expect(nofileFor(1)).to.equal(2048);
    expect(nofileFor(64_512)).to.equal(65_536);
  });

  it("quotes ExecStart words as systemd parses them, escaping its % and $ specifiers", () => {
    expect(quoteExecWord('/usr/bin/node')).to.equal('/usr/bin/node');
    expect(quoteExecWord('/srv/my app/bin')).to.equal('"/srv/my app/bin"');
    expect(quoteExecWord('50%')).to.equal('50%%');
    expect(quoteExecWord('$HOME')).to.equal('$$HOME');
    expect(quoteExecWord('say "hi"')).to.equal('"say \\"hi\\""');
    expect(quoteExecWord('')).to.equal('""');
  });

  it('drops placeholder lines with nothing to say and keeps no placeholder', () => {
    const unit = renderUnit(spec());
    expect(unit).not.to.contain('{{');
    expect(unit).not.to.match(/^Group=/m);
    expect(unit).not.to.match(/^ReadWritePaths=/m);
    expect(unit).not.to.match(/\n\n\n/);
    const grouped = renderUnit(spec({ group: 'teampass', writablePaths: ['/srv/log dir'], logsDirectories: ['teampass-ws'] }));
    expect(grouped).to.match(/^User=www-data\nGroup=teampass$/m);
    expect(grouped).to.match(/^LogsDirectory=teampass-ws\nReadWritePaths="\/srv\/log dir"$/m);
  });

  it('renders paths with spaces and % that systemd-analyze accepts', () => {
    const dir = tempDir();
    const odd = path.join(dir, 'odd 100% dir');
    mkdirSync(odd);
    symlinkSync(process.execPath, path.join(odd, 'node'));
    const unit = renderUnit(spec({ nodePath: path.join(odd, 'node'), binPath: BIN, workingDirectory: odd, writablePaths: [odd] }));
    expect(unit).to.contain(`ExecStart="${odd.replace('%', '%%')}/node" ${BIN} serve`);
    const file = path.join(dir, 'teampass-websocket.service');
    writeFileSync(file, unit);
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect(r.error, 'systemd-analyze (Debian package "systemd") is needed').to.equal(undefined);
    expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
    expect(`${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('teampass-websocket.service'))).to.deep.equal([]);
  });
});
