import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, defaultConfig, CONFIG_KEY_NAMES, CONFIG_KEYS } from '../../src/config/index.js';
import { TeampassWsError } from '../../src/errors.js';
import { tempDir, cleanupTempDirs } from '../helpers/backends.js';
import { makeTeampassInstall } from '../helpers/teampass-install.js';

async function loadError(p: Promise<unknown>): Promise<TeampassWsError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(TeampassWsError);
    return err as TeampassWsError;
  }
  throw new Error('expected an error');
}

describe('configuration', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  after(cleanupTempDirs);

  const load = (opts: Parameters<typeof loadConfig>[0] = {}) => loadConfig({ env: {}, cwd: dir, searchPaths: [], ...opts });
  const writeJson = (name: string, value: unknown) => {
    const file = path.join(dir, name);
    writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
    return file;
  };

  it("has TeamPass's key names and defaults", async () => {
    const { config, sources, dbTarget, tokenMode } = await load();
    expect(config).to.include({
      host: '127.0.0.1',
      port: 8080,
      poll_batch_size: 100,
      max_connections_per_user: 5,
      max_message_size: 65536,
      rate_limit_messages: 10,
      rate_limit_window_ms: 1000,
      ping_interval_sec: 30,
      pong_timeout_sec: 60,
      log_level: 'info',
      event_retention_hours: 24,
      cleanup_interval_sec: 3600,
      prefix: 'teampass_',
    });
    expect(sources.port).to.equal('default');
    expect(dbTarget).to.equal(null);
    expect(tokenMode).to.equal('reusable');
    expect(Object.keys(defaultConfig()).sort()).to.deep.equal([...CONFIG_KEY_NAMES].sort());
    for (const key of CONFIG_KEY_NAMES) expect(CONFIG_KEYS[key].description, key).to.be.a('string').and.not.empty;
  });

  it('layers file < env < flags and records where each value came from', async () => {
    const file = writeJson('c.json', { port: 9000, host: '0.0.0.0', poll_interval_ms: 300, allowed_origins: ['https://tp.example.org'] });
    const { config, sources } = await load({
      configPath: file,
      env: { TEAMPASS_WS_PORT: '9100', TEAMPASS_WS_TRUSTED_PROXIES: '10.0.0.1, 10.0.0.2' },
      flags: { port: '9200' },
    });
    expect(config.port).to.equal(9200);
    expect(sources.port).to.equal('flag --port');
    expect(config.host).to.equal('0.0.0.0');
    expect(sources.host).to.equal(`file ${file}`);
    expect(config.trusted_proxies).to.deep.equal(['10.0.0.1', '10.0.0.2']);
    expect(sources.trusted_proxies).to.equal('env TEAMPASS_WS_TRUSTED_PROXIES');
    expect(config.allowed_origins).to.deep.equal(['https://tp.example.org']);
  });

  it('finds the config file through TEAMPASS_WS_CONFIG and the search path', async () => {
    const file = writeJson('env.json', { port: 8123 });
    expect((await load({ env: { TEAMPASS_WS_CONFIG: file } })).config.port).to.equal(8123);
    writeJson('teampass-ws.json', { port: 8124 });
    const found = await loadConfig({ env: {}, cwd: dir });
    expect(found.config.port).to.equal(8124);
    expect(found.configFile).to.equal(path.join(dir, 'teampass-ws.json'));
  });

  it('names the key, value and source of a bad value', async () => {
    let err = await loadError(load({ env: { TEAMPASS_WS_PORT: 'http' } }));
    expect(err.code).to.equal('CONFIG_INVALID');
    expect(err.message).to.equal('Invalid value for "port" from env TEAMPASS_WS_PORT: "http"; expected an integer from 1 to 65535.');

    err = await loadError(load({ flags: { poll_interval_ms: '0' } }));
    expect(err.message).to.contain('"poll_interval_ms" from flag --poll-interval-ms: "0"');

    const file = writeJson('bad.json', { log_level: 'verbose' });
    err = await loadError(load({ configPath: file }));
    expect(err.message).to.equal(`Invalid value for "log_level" from file ${file}: "verbose"; expected one of error, warn, info, debug.`);

    err = await loadError(load({ configPath: writeJson('b2.json', { max_connections_per_user: 2.5 }) }));
    expect(err.message).to.contain('"max_connections_per_user"');
  });

  it('workers: a whole number from 1 to 64, or "auto", from every source', async () => {
    expect((await load()).config.workers).to.equal(1);
    expect((await load({ flags: { workers: 'auto' } })).config.workers).to.equal('auto');
    expect((await load({ env: { TEAMPASS_WS_WORKERS: '4' } })).config.workers).to.equal(4);
    expect((await load({ configPath: writeJson('w.json', { workers: 64 }) })).config.workers).to.equal(64);
    for (const bad of ['0', '65', 'abc', '2.5', '-1', 'Auto']) {
      const err = await loadError(load({ flags: { workers: bad } }));
      expect(err.message).to.equal(`Invalid value for "workers" from flag --workers: "${bad}"; expected a whole number from 1 to 64, or "auto" (one per CPU core).`);
    }
    const err = await loadError(load({ configPath: writeJson('w2.json', { workers: 2.5 }) }));
    expect(err.message).to.contain('"workers"');
  });

  it('never shows a secret value in an error', async () => {
    const err = await loadError(load({ configPath: writeJson('s.json', { jwt_secret: 12345678 }) }));
    expect(err.message).to.contain('"jwt_secret"');
    expect(err.message).to.contain('(hidden)');
    expect(err.message).not.to.contain('12345678');
  });

  it('refuses unknown keys from every source, with a hint', async () => {
    let err = await loadError(load({ configPath: writeJson('u.json', { 'poll-interval-ms': 100 }) }));
    expect(err.message).to.match(/Unknown configuration key "poll-interval-ms" in file /);
    expect(err.suggestion).to.equal('Did you mean "poll_interval_ms"?');
    err = await loadError(load({ env: { TEAMPASS_WS_PORTT: '1' } }));
    expect(err.message).to.equal('Unknown configuration key "TEAMPASS_WS_PORTT" in env TEAMPASS_WS_PORTT.');
  });

  it('explains a config file that is missing, not JSON, or not an object', async () => {
    let err = await loadError(load({ configPath: 'nope.json' }));
    expect(err.code).to.equal('CONFIG_FILE');
    expect(err.message).to.contain('no such file');
    err = await loadError(load({ configPath: writeJson('x.json', '{"port": 80,}') }));
    expect(err.message).to.contain('is not valid JSON');
    err = await loadError(load({ configPath: writeJson('y.json', '[1]') }));
    expect(err.message).to.contain('must hold one JSON object, not an array');
  });

  it('refuses contradictory heartbeat settings', async () => {
    const err = await loadError(load({ flags: { ping_interval_sec: '30', pong_timeout_sec: '20' } }));
    expect(err.message).to.contain('"pong_timeout_sec" (20, from flag --pong-timeout-sec) must be longer than "ping_interval_sec"');
  });

  it('parses --db URLs and hides their password in errors', async () => {
    const { dbTarget } = await load({ flags: { db: 'mysql://tp:p%40ss@db.local:3307/teampass' } });
    expect(dbTarget).to.deep.include({ client: 'mysql', host: 'db.local', port: 3307, user: 'tp', password: 'p@ss', database: 'teampass' });
    const sqlite = await load({ flags: { db: 'sqlite:data/ws.sqlite' } });
    expect(sqlite.dbTarget).to.deep.equal({ client: 'sqlite', filename: path.join(dir, 'data', 'ws.sqlite') });
    const err = await loadError(load({ flags: { db: 'mysql://tp:topsecret@db.local:3307/' } }));
    expect(err.code).to.equal('DB_URL');
    expect(err.message).to.contain('names no database');
    expect(err.message + (err.suggestion ?? '')).not.to.contain('topsecret');
  });

  for (const version of ['3.1', '3.2'] as const) {
    it(`reads the database from a TeamPass ${version} installation, below env and flags`, async () => {
      const root = makeTeampassInstall({ version, password: 'Db-Pa$$word', host: 'db.internal', port: 3310, database: 'tp', prefix: 'tpx_' });
      const loaded = await load({ flags: { teampass_root: root } });
      expect(loaded.dbTarget).to.deep.include({ client: 'mysql', host: 'db.internal', port: 3310, database: 'tp', password: 'Db-Pa$$word' });
      expect(loaded.config.prefix).to.equal('tpx_');
      expect(loaded.sources.prefix).to.match(/^TeamPass settings .*settings\.php$/);
      expect(loaded.tokenMode).to.equal(version === '3.1' ? 'single_use' : 'reusable');
      expect(loaded.teampass?.version).to.equal(version);

      const overridden = await load({ flags: { teampass_root: root, prefix: 'other_' }, env: { TEAMPASS_WS_TOKEN_MODE: 'reusable' } });
      expect(overridden.config.prefix).to.equal('other_');
      expect(overridden.tokenMode).to.equal('reusable');
    });
  }
});
