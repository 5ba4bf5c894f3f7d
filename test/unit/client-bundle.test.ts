import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { ROOT } from '../helpers/cli.js';

describe('browser client: the bundle', () => {
  let source = '';

  before(function () {
    this.timeout(60_000);
    const built = spawnSync(process.execPath, ['scripts/build-client.mjs'], { cwd: ROOT, encoding: 'utf8' });
    expect(built.status, built.stderr).to.equal(0);
    source = readFileSync(path.join(ROOT, 'dist/client/teampass-websocket.js'), 'utf8');
  });

  it('is one script with no imports that defines the global TeamPassWebSocket with TeamPass’s methods', () => {
    expect(source).to.not.match(/\brequire\(|^\s*import\s/m);
    const page: Record<string, unknown> = {
      TeamPassWebSocketToken: 'c'.repeat(64),
      TeamPassWebSocketUrl: 'wss://teampass.example/ws',
      location: { protocol: 'https:', host: 'teampass.example' },
      console,
      setTimeout,
      clearTimeout,
      setInterval,
      clearInterval,
    };
    vm.runInNewContext(source, page);
    const Client = page.TeamPassWebSocket as new (o?: object) => Record<string, unknown>;
    expect(Client).to.be.a('function');
    const c = new Client();
    for (const method of ['connect', 'disconnect', 'send', 'subscribeToFolder', 'unsubscribeFromFolder', 'on', 'off', 'onOpen', 'onClose', 'onError', 'onReconnecting', 'isConnectedNow', 'getSubscriptions']) {
      expect(c[method], method).to.be.a('function');
    }
    expect(c.url).to.equal('wss://teampass.example/ws');
    expect(c.token).to.equal('c'.repeat(64));
    const defaults = new Client({ token: 'x' });
    expect(defaults.reconnectInterval).to.equal(3000);
    expect(defaults.maxReconnectAttempts).to.equal(10);
    expect(defaults.pingInterval).to.equal(25_000);
    expect(defaults.requestTimeout).to.equal(10_000);
  });

  it('connects to /ws on the page’s host when the page names no URL', () => {
    const page: Record<string, unknown> = { location: { protocol: 'http:', host: 'tp.local:8443' }, console, setTimeout, clearTimeout, setInterval, clearInterval };
    vm.runInNewContext(source, page);
    const c = new (page.TeamPassWebSocket as new (o?: object) => Record<string, unknown>)({ token: 't' });
    expect(c.url).to.equal('ws://tp.local:8443/ws');
  });
});
