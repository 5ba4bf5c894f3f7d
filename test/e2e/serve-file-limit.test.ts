import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { Database } from '../../src/db/index.js';
import { forEachBackend, tempDir } from '../helpers/backends.js';
import { startCliWithFileLimit, type RunningCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mariadb.js';
import { createTeampassDatabase, issueToken, seedUser } from '../helpers/teampass-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { connect, type TestWsClient } from '../helpers/ws-client.js';

forEachBackend('serve at its open-file limit (the CLI as a process)', (backend) => {
  let db: Database;
  let url: string;
  let daemon: RunningCli | undefined;
  let client: TestWsClient | undefined;
  const sockets: net.Socket[] = [];

  beforeEach(async () => {
    url = await backend().newDatabaseUrl();
    db = await createTeampassDatabase(url);
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await client?.close().catch(() => undefined);
    await daemon?.stop();
    await db.close();
  });

  it('refuses connections past the limit cleanly, keeps serving the connected ones, logs it once and counts it', async function () {
    this.timeout(60_000);
    const user = await seedUser(db);
    const port = await freePort();
    const logFile = `${tempDir('tpws-fd-')}/ws.log`;
    daemon = startCliWithFileLimit(['serve', '--db', url, '--host', '127.0.0.1', '--port', String(port), '--log-file', logFile, '--poll-interval-ms', '50'], 160);
    await daemon.waitFor(/listening on ws:\/\/127\.0\.0\.1:\d+/, 30_000);
    client = await connect(`ws://127.0.0.1:${port}/ws?token=${await issueToken(db, user.id)}`);
    await client.next((f) => f.type === 'connected');

    // Far more sockets than 160 open files allow: the excess is closed at once, not left hanging.
    let closedByServer = 0;
    await Promise.all(
      Array.from({ length: 300 }, () => new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => resolve());
        s.on('error', () => resolve());
        s.on('close', () => (closedByServer += 1));
        sockets.push(s);
      })),
    );
    await waitFor(() => closedByServer >= 100, 'the sockets past the limit closed by the daemon', 10_000);

    // The connected client still gets its events while the daemon is at the limit.
    await db.knex(db.t.events).insert({ event_type: 'task_completed', target_type: 'user', target_id: user.id, payload: JSON.stringify({ task_id: 1 }) });
    expect((await client.next((f) => f.type === 'event', 10_000)).event).to.equal('task_completed');

    for (const s of sockets.splice(0)) s.destroy();
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() => '')).includes('fd_limit'), 'the refusals in /metrics', 10_000);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const refused = Number(/teampass_ws_connections_refused_total\{reason="fd_limit"\} (\d+)/.exec(metrics)?.[1]);
    expect(refused).to.be.greaterThan(0);
    const warnings = readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes('Open-file limit reached'));
    expect(warnings, 'logged once (at most once a minute)').to.have.length(1);
  });
});

