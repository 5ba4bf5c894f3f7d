import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_KEY_NAMES, defaultConfig, loadConfig } from '../../src/config/index.js';
import { cleanupTempDirs, tempDir } from '../helpers/backends.js';
import { ROOT } from '../helpers/cli.js';

const template = (name: string) => path.join(ROOT, 'templates', name);

function run(command: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${command} is needed for this test: ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A throwaway certificate, so the servers' syntax checks can load the TLS lines. */
function certificate(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'fullchain.pem');
  const key = path.join(dir, 'privkey.pem');
  const r = run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=teampass.example.com']);
  expect(r.status, r.output).to.equal(0);
  return { cert, key };
}

describe('templates', () => {
  after(cleanupTempDirs);

  it('config.example.json holds every configuration key and loads as it is', async () => {
    const text = readFileSync(template('config.example.json'), 'utf8');
    const raw = JSON.parse(text) as Record<string, unknown>;
    const keys = Object.keys(raw).filter((k) => !k.startsWith('//'));
    expect([...keys].sort()).to.deep.equal([...CONFIG_KEY_NAMES].sort());
    for (const comment of Object.keys(raw).filter((k) => k.startsWith('//') && k !== '//')) {
      expect(CONFIG_KEY_NAMES, `${comment} comments a real key`).to.include(comment.slice(2));
    }
    // teampass_root names a TeamPass that is not on this machine; everything else loads as written.
    const loaded = await loadConfig({ configPath: template('config.example.json'), flags: { teampass_root: '' }, env: {} });
    const defaults = defaultConfig() as unknown as Record<string, unknown>;
    const changed = CONFIG_KEY_NAMES.filter((k) => JSON.stringify(raw[k]) !== JSON.stringify(defaults[k]));
    expect(changed.sort(), 'the header comment lists what differs from the defaults').to.deep.equal(['allowed_origins', 'log_file', 'teampass_root', 'wake_port']);
    expect(loaded.config.wake_port).to.equal(8079);
    const php = readFileSync(template('teampass-ws-wake.php'), 'utf8');
    expect(php, 'the PHP wake-up script wakes the port the example configures').to.match(/define\('TEAMPASS_WS_WAKE_PORT', .* : 8079\);/);
  });

  it('the nginx snippet passes nginx -t', () => {
    const dir = tempDir();
    const { cert, key } = certificate(dir);
    const site = readFileSync(template('nginx.conf'), 'utf8')
      .replace('/etc/letsencrypt/live/teampass.example.com/fullchain.pem', cert)
      .replace('/etc/letsencrypt/live/teampass.example.com/privkey.pem', key);
    expect(site).to.match(/location \/ws \{[^}]*proxy_set_header Upgrade \$http_upgrade;[^}]*proxy_read_timeout 86400s;/s);
    expect(site).to.contain('server 127.0.0.1:8080;');
    writeFileSync(path.join(dir, 'site.conf'), site);
    writeFileSync(path.join(dir, 'nginx.conf'), `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n    include ${dir}/site.conf;\n}\n`);
    const r = run('nginx', ['-t', '-p', dir, '-c', path.join(dir, 'nginx.conf')]);
    expect(r.status, r.output).to.equal(0);
    expect(r.output).to.contain('syntax is ok');
  });

  it('the Apache snippet passes apache2 -t with the modules it names', () => {
    const dir = tempDir();
    const { cert, key } = certificate(dir);
    const site = readFileSync(template('apache.conf'), 'utf8')
      .replace('/etc/letsencrypt/live/teampass.example.com/fullchain.pem', cert)
      .replace('/etc/letsencrypt/live/teampass.example.com/privkey.pem', key)
      .replace('/var/www/html/TeamPass', dir);
    expect(site).to.contain('RewriteRule ^/ws/?$ ws://127.0.0.1:8080/ws [P,L]');
    writeFileSync(path.join(dir, 'site.conf'), site);
    const modules = '/usr/lib/apache2/modules';
    const needed = /a2enmod ([a-z_ ]+)/.exec(site)?.[1].trim().split(/\s+/) ?? [];
    expect(needed).to.include.members(['ssl', 'proxy_wstunnel', 'rewrite']);
    const load = ['mpm_event', 'authz_core', 'authz_host', 'alias', 'socache_shmcb', ...needed].map((m) => `LoadModule ${m}_module ${modules}/mod_${m}.so`);
    mkdirSync(path.join(dir, 'logs'));
    writeFileSync(
      path.join(dir, 'httpd.conf'),
      [`ServerRoot ${dir}`, 'ServerName localhost', `PidFile ${dir}/httpd.pid`, `ErrorLog ${dir}/error.log`, 'Listen 127.0.0.1:8443', ...load, `Include ${dir}/site.conf`, ''].join('\n'),
    );
    const r = run('apache2', ['-t', '-f', path.join(dir, 'httpd.conf')]);
    expect(r.status, r.output).to.equal(0);
    expect(r.output).to.contain('Syntax OK');
  });

  it('the unit template names only values install-systemd fills', () => {
    const unit = readFileSync(template('teampass-websocket.service'), 'utf8');
    const placeholders = [...unit.matchAll(/\{\{([A-Z_]+)\}\}/g)].map((m) => m[1]);
    expect([...new Set(placeholders)].sort()).to.deep.equal(['CAPABILITIES', 'EXEC_START', 'GROUP_LINE', 'LIMIT_NOFILE', 'PROTECT_HOME', 'USER', 'WORKING_DIRECTORY', 'WRITABLE_PATHS']);
  });
});
