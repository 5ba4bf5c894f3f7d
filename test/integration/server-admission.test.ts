import { expect } from 'chai';
import type { Database } from '../../src/db/index.js';
import { forEachBackend } from '../helpers/backends.js';
import { issueToken, seedUser } from '../helpers/teampass-fixture.js';
import { connect, type TestWsClient } from '../helpers/ws-client.js';
import { connected, useServerSuite, waitFor } from './server-harness.js';

/** A counter or gauge of the daemon's registry, summed over the labels given. */
async function metric(srv: { metrics: { registry: { getMetricsAsJSON(): Promise<Array<{ name: string; values: Array<{ value: number; labels: Record<string, unknown> }> }>> } } }, name: string, labels: Record<string, string> = {}): Promise<number> {
  const all = await srv.metrics.registry.getMetricsAsJSON();
  const found = all.find((m) => m.name === name);
  return (found?.values ?? []).filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((sum, v) => sum + v.value, 0);
}

forEachBackend('serve: connections that have not authenticated yet', (backend) => {
  const suite = useServerSuite(backend);
  let db: Database;
  const open: TestWsClient[] = [];
  beforeEach(() => {
    db = suite.db;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
  });
  const tokenless = async () => {
    const client = await connect(suite.srv!.url);
    open.push(client);
    return client;
  };

  it('caps the sockets waiting for a credential, refuses more with 503, and still lets a user with a token in', async () => {
    const srv = await suite.start({ config: { max_pending_connections: 5, max_pending_per_ip: 100, auth_timeout_sec: 30 } });
    for (let i = 0; i < 5; i++) await tokenless();
    let refusal: Error | undefined;
    await tokenless().catch((err: Error) => (refusal = err));
    expect(refusal?.message).to.equal('upgrade refused: HTTP 503');
    expect(await metric(srv, 'teampass_ws_connections_refused_total', { reason: 'pending_global' })).to.equal(1);
    expect(await metric(srv, 'teampass_ws_pending_connections')).to.equal(5);

    const user = await srv.client(`?token=${await issueToken(db, (await seedUser(db)).id)}`);
    expect((await connected(user)).type, 'a token in the URL is not a waiting socket').to.equal('connected');

    // One waiting socket authenticates, another goes away: two places free up.
    const first = open[0]!;
    first.send({ action: 'authenticate', token: await issueToken(db, (await seedUser(db)).id) });
    expect((await connected(first)).type).to.equal('connected');
    await open[1]!.close();
    await waitFor(async () => (await metric(srv, 'teampass_ws_pending_connections')) === 3, 'two places freed');
    await tokenless();
    await tokenless();
  });

  it('caps them per client address too', async () => {
    const srv = await suite.start({ config: { max_pending_connections: 100, max_pending_per_ip: 2, auth_timeout_sec: 30 } });
    await tokenless();
    await tokenless();
    let refusal: Error | undefined;
    await tokenless().catch((err: Error) => (refusal = err));
    expect(refusal?.message).to.equal('upgrade refused: HTTP 503');
    expect(await metric(srv, 'teampass_ws_connections_refused_total', { reason: 'pending_ip' })).to.equal(1);
  });

  it('stops reading a socket that queues more than max_message_size bytes before authenticating', async () => {
    const srv = await suite.start({ config: { auth_timeout_sec: 2, rate_limit_messages: 10_000 } });
    const client = await tokenless();
    // 40 messages of 60 KB each, none of them a credential: read, they would all wait in memory.
    const pad = 'x'.repeat(60_000);
    for (let i = 0; i < 40; i++) client.send({ action: 'get_status', pad });
    await new Promise((r) => setTimeout(r, 1000));
    const read = await metric(srv, 'teampass_ws_messages_received_total', { action: 'get_status' });
    expect(read, 'messages read before the socket was paused').to.be.within(1, 2);
    // A credential stuck behind the flood never arrives: the authentication timeout ends it.
    expect(await client.next((f) => f.type === 'error', 5000)).to.include({ error_code: 'auth_timeout' });
    expect((await client.waitClose()).code).to.equal(1000);
  });
});
