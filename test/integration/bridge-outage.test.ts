import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { setTimeout as sleep } from 'node:timers/promises';
import { onMariaDb } from '../helpers/backends.js';
import { waitFor } from '../helpers/wait.js';
import { RecordingTarget } from './bridge-recorder.js';
import { useServerSuite } from './server-harness.js';

onMariaDb('event bridge: database outage [mariadb]', (backend) => {
  const suite = useServerSuite(backend, { schema: 'daemon' });

  it('keeps connections, reports the outage, and delivers everything committed once MariaDB is back', async function () {
    this.timeout(120_000);
    const server = backend().server!;
    const { db, url } = suite;
    const h = await suite.startBridge({ poll_interval_ms: 50 });
    const target = new RecordingTarget(1);
    h.directory.add(target);
    const insert = async (n: number) => {
      const c = await mysql.createConnection(url);
      try {
        const [res] = await c.query(`INSERT INTO ${db.t.events} (event_type, target_type, target_id, payload) VALUES ('task_progress', 'user', 1, ?)`, [JSON.stringify({ progress: n })]);
        return (res as mysql.ResultSetHeader).insertId;
      } finally {
        await c.end();
      }
    };
    let restarted = false;
    try {
      const before = await insert(0);
      await waitFor(() => target.received.length === 1, 'the first event arrives');

      await server.stop();
      await waitFor(() => !h.bridge.health().dbReachable, 'the bridge notices the outage', 20_000);
      const lag1 = h.bridge.health().pollLagMs;
      await sleep(500);
      const lag2 = h.bridge.health().pollLagMs;
      expect(lag2).to.be.greaterThan(lag1);
      expect(target.closed).to.equal(undefined);
      const gauge = (await h.metrics.pollLagSeconds.get()).values[0]!.value;
      expect(gauge).to.be.greaterThan(0);

      await server.start();
      restarted = true;
      // Committed before the poller has reconnected: none may be lost.
      const during: number[] = [];
      for (let i = 1; i <= 5; i += 1) during.push(await insert(i));

      await waitFor(() => target.received.length === 6, 'every event committed after the restart arrives', 30_000);
      expect(target.ids()).to.deep.equal([before, ...during]);
      await waitFor(() => h.bridge.health().dbReachable, 'the bridge reports the database reachable');
      expect(h.bridge.health().pollLagMs).to.be.lessThan(5_000);
      const downs = h.logger.lines.filter((l) => l.level === 'warn' && /Cannot read the events table/.test(l.message));
      const ups = h.logger.lines.filter((l) => l.level === 'info' && /answers again/.test(l.message));
      expect(downs, 'one line when it goes down').to.have.length(1);
      expect(ups, 'one line when it comes back').to.have.length(1);
    } finally {
      if (!restarted) await server.start();
    }
  });
});
