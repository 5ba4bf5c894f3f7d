import { expect } from 'chai';
import type { Database } from '../../src/db/index.js';
import { cleanupTempDirs, forEachBackend } from '../helpers/backends.js';
import { runCli, startCli, type RunningCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mariadb.js';
import { parsePrometheusText, type MetricFamily } from '../helpers/prometheus.js';
import { addFolder, createTeampassDatabase, grantFolder, issueToken, seedUser, setTeampassSetting } from '../helpers/teampass-fixture.js';
import { closeAll, connect, type TestWsClient } from '../helpers/ws-client.js';

const LISTENING = /teampass-ws listening on ws:\/\/127\.0\.0\.1:(\d+)/;

function value(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return families.get(name)?.samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}

forEachBackend('/metrics of a running daemon', (backend) => {
  let db: Database;
  let url: string;
  let daemon: RunningCli | undefined;
  const clients: TestWsClient[] = [];

  afterEach(async function () {
    this.timeout(30_000);
    await closeAll(clients.splice(0));
    await daemon?.stop();
    daemon = undefined;
    await db?.close();
  });
  after(cleanupTempDirs);

  it('exposes connections, subscriptions, deliveries, auth failures and process metrics as valid Prometheus text', async function () {
    this.timeout(90_000);
    url = await backend().newDatabaseUrl();
    db = await createTeampassDatabase(url);
    await setTeampassSetting(db, 'websocket_enabled', '1');
    const alice = await seedUser(db, { login: 'alice' });
    const folder = await addFolder(db);
    await grantFolder(db, alice.id, folder);
    const port = await freePort();
    daemon = startCli(['serve', '--db', url, '--host', '127.0.0.1', '--port', String(port), '--poll-interval-ms', '100']);
    await daemon.waitFor(LISTENING, 60_000);
    const base = `http://127.0.0.1:${port}`;

    const a = await connect(`ws://127.0.0.1:${port}/ws?token=${await issueToken(db, alice.id)}`);
    clients.push(a);
    await a.nextOfType('connected');
    expect(await a.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folder } })).to.include({ action: 'subscribed' });
    const intruder = await connect(`ws://127.0.0.1:${port}/ws?token=${'0'.repeat(64)}`);
    clients.push(intruder);
    expect(await intruder.nextOfType('error')).to.include({ error_code: 'auth_failed' });
    await intruder.waitClose();

    const emitted = await runCli(['emit', 'item_created', 'item_id=1', `folder_id=${folder}`, 'label=x', 'created_by=2', '--db', url, '--wait', '--timeout', '20']);
    expect(emitted.code, emitted.stderr).to.equal(0);
    await a.next((f) => f.type === 'event', 10_000);

    const res = await fetch(`${base}/metrics`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusText(await res.text());

    expect(families.get('teampass_ws_connections')?.type).to.equal('gauge');
    expect(value(families, 'teampass_ws_connections')).to.equal(1);
    expect(value(families, 'teampass_ws_users')).to.equal(1);
    expect(value(families, 'teampass_ws_subscriptions', { channel: 'folder' })).to.equal(1);
    expect(families.get('teampass_ws_events_delivered_total')?.type).to.equal('counter');
    expect(value(families, 'teampass_ws_events_delivered_total', { event_type: 'item_created' })).to.equal(1);
    expect(value(families, 'teampass_ws_events_polled_total')).to.be.at.least(1);
    const failures = families.get('teampass_ws_auth_failures_total')?.samples ?? [];
    expect(failures.reduce((sum, s) => sum + s.value, 0), JSON.stringify(failures)).to.be.at.least(1);
    expect(value(families, 'teampass_ws_poll_lag_seconds')).to.be.a('number').at.least(0).and.lessThan(30);
    expect(families.has('teampass_ws_slow_consumer_closes_total')).to.equal(true);
    expect(value(families, 'teampass_ws_process_resident_memory_bytes')).to.be.greaterThan(0);
    expect(families.get('teampass_ws_nodejs_heap_space_size_used_bytes')?.samples.length).to.be.greaterThan(0);
    for (const [name, family] of families) expect(family.help, `${name} has HELP`).to.be.a('string').and.not.empty;
  });
});
