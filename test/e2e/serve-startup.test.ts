import { expect } from 'chai';
import net from 'node:net';
import { startCli, type RunningCli } from '../helpers/cli.js';
import { freePort, mariaDb } from '../helpers/mariadb.js';
import { acceptsTcp } from '../helpers/tcp.js';
import { createTeampassDatabase, issueToken, seedUser } from '../helpers/teampass-fixture.js';
import { connect } from '../helpers/ws-client.js';

/**
 * A TCP relay to MariaDB that holds every connection, silent, until `open()`: a database that
 * is not answering yet, as at boot. `touched` resolves at the first connection it receives.
 */
class DatabaseGate {
  private readonly server: net.Server;
  private readonly held: net.Socket[] = [];
  private opened = false;
  port = 0;
  readonly touched: Promise<void>;
  private markTouched!: () => void;

  constructor(private readonly target: { host: string; port: number }) {
    this.touched = new Promise((resolve) => (this.markTouched = resolve));
    this.server = net.createServer((socket) => {
      this.markTouched();
      socket.on('error', () => undefined);
      if (this.opened) this.relay(socket);
      else this.held.push(socket);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  open(): void {
    this.opened = true;
    for (const socket of this.held.splice(0)) this.relay(socket);
  }

  async stop(): Promise<void> {
    for (const socket of this.held.splice(0)) socket.destroy();
    this.server.close();
  }

  private relay(socket: net.Socket): void {
    const upstream = net.connect(this.target.port, this.target.host);
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  }
}

describe('serve: the port is bound before the database is touched [mariadb]', function () {
  this.timeout(90_000);
  let gate: DatabaseGate | undefined;
  let cli: RunningCli | undefined;

  afterEach(async () => {
    await cli?.stop();
    await gate?.stop();
    cli = undefined;
    gate = undefined;
  });

  it("accepts TCP at once (TeamPass's admin panel checks the port 0.5 s after Start), answers /healthz 503 starting, and holds upgrades until the database answers", async function () {
    const server = await mariaDb();
    if (!server) this.skip(); // only on a developer machine without MariaDB; CI=true fails instead
    const url = new URL(await server.createDatabase());
    const db = await createTeampassDatabase(url.toString());
    try {
      const user = await seedUser(db);
      const token = await issueToken(db, user.id);
      gate = await new DatabaseGate({ host: url.hostname, port: Number(url.port) }).start();
      const viaGate = new URL(url.toString());
      viaGate.port = String(gate.port);
      const port = await freePort();
      cli = startCli(['serve', '--db', viaGate.toString(), '--host', '127.0.0.1', '--port', String(port), '--poll-interval-ms', '50']);

      await gate.touched;
      expect(await acceptsTcp(port), `the port accepts when the database is first touched; output: ${cli.output()}`).to.equal(true);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).to.equal(503);
      expect(await health.json()).to.deep.include({ status: 'starting', service: 'teampass-ws' });

      const connecting = connect(`ws://127.0.0.1:${port}/ws?token=${token}`, { timeoutMs: 60_000 });
      gate.open();
      const client = await connecting;
      expect(await client.next((f) => f.type === 'connected' || f.type === 'error', 30_000)).to.deep.include({ type: 'connected', user_id: user.id });
      await client.close();
      await cli.waitFor(/teampass-ws listening on/);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).to.equal(200);
      expect(await cli.stop()).to.equal(0);
    } finally {
      await db.close();
    }
  });
});
