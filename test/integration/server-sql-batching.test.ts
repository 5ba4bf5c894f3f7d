import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import type { Database } from '../../src/db/index.js';
import { PREPARED_STATEMENT_SLOTS } from '../../src/db/index.js';
import { onMariaDb } from '../helpers/backends.js';
import { addFolder, addItem, addRole, assignRole, issueToken, lockItem, seedUser } from '../helpers/teampass-fixture.js';
import { waitFor } from '../helpers/wait.js';
import type { TestWsClient } from '../helpers/ws-client.js';
import { connected, useServerSuite } from './server-harness.js';

/**
 * MariaDB's general log kept as a table while `body` runs: the statements this database saw, in
 * order (the log is server-wide: only statements naming this database's tables are kept).
 */
async function statementsDuring(db: Database, body: () => Promise<void>, commands: readonly string[] = ['Query']): Promise<string[]> {
  await db.knex.raw('TRUNCATE TABLE mysql.general_log');
  await db.knex.raw("SET GLOBAL log_output = 'TABLE'");
  await db.knex.raw('SET GLOBAL general_log = 1');
  try {
    await body();
  } finally {
    await db.knex.raw('SET GLOBAL general_log = 0');
  }
  const [rows] = (await db.knex.raw(
    `SELECT command_type, CONVERT(argument USING utf8mb4) AS sql_text FROM mysql.general_log WHERE command_type IN (${commands.map(() => '?').join(', ')}) ORDER BY event_time`,
    [...commands],
  )) as [Array<{ command_type: string; sql_text: string }>];
  // With several commands asked for, each statement is prefixed by its command (`Execute: select …`).
  return rows
    .filter((r) => r.sql_text.includes(db.prefix) && !r.sql_text.includes('general_log'))
    .map((r) => (commands.length > 1 ? `${r.command_type}: ${r.sql_text}` : r.sql_text));
}

async function grantedUsers(db: Database, folders: number[], users: number): Promise<number[]> {
  const role = await addRole(db, Object.fromEntries(folders.map((f) => [f, 'W' as const])));
  const ids: number[] = [];
  for (let i = 0; i < users; i += 1) {
    const user = await seedUser(db);
    await assignRole(db, user.id, role);
    ids.push(user.id);
  }
  return ids;
}

onMariaDb('serve: the SQL a burst of clients costs [mariadb]', (backend) => {
  const suite = useServerSuite(backend);
  const quiet = { session_check_sec: 3600, access_refresh_sec: 3600 };

  it('reads the locked items of ten folders subscribed to at once in one or two statements, not one per folder', async function () {
    this.timeout(60_000);
    const db = suite.db;
    const folders: number[] = [];
    for (let i = 0; i < 10; i += 1) folders.push(await addFolder(db, { title: `locks${i}` }));
    const users = await grantedUsers(db, folders, 10);
    const srv = await suite.start({ config: quiet });
    const clients: TestWsClient[] = await Promise.all(users.map(async (id) => srv.client(`?token=${await issueToken(db, id)}`)));
    await Promise.all(clients.map((c) => connected(c)));

    const sql = await statementsDuring(db, async () => {
      const replies = await Promise.all(clients.map((c, i) => c.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folders[i] } }, 30_000)));
      expect(replies.map((r) => r.action)).to.deep.equal(clients.map(() => 'subscribed'));
    });
    const lockReads = sql.filter((s) => s.includes(`${db.prefix}items_edition`));
    expect(lockReads.length, lockReads.join('\n')).to.be.within(1, 2);
  });

  it('batches the token lookups of handshakes arriving a few milliseconds apart', async function () {
    this.timeout(60_000);
    const db = suite.db;
    const folder = await addFolder(db);
    const users = await grantedUsers(db, [folder], 40);
    const tokens = await Promise.all(users.map((id) => issueToken(db, id)));
    const srv = await suite.start({ config: quiet });

    const clients: Array<Promise<TestWsClient>> = [];
    const sql = await statementsDuring(db, async () => {
      // One handshake every 8 ms: each would have its own lookup with a fixed 3 ms window.
      for (const token of tokens) {
        clients.push(srv.client(`?token=${token}`).then(async (c) => (await connected(c), c)));
        await sleep(8);
      }
      await Promise.all(clients);
    });
    const lookups = sql.filter((s) => /from `\w*websocket_tokens` where `token` in/.test(s));
    expect(lookups.length, `${lookups.length} token lookups for ${tokens.length} handshakes`).to.be.at.most(tokens.length / 2);
  });

  it("checks whether users who leave together are connected elsewhere, and reads their locks, in a few statements, not per user", async function () {
    this.timeout(60_000);
    const db = suite.db;
    const folder = await addFolder(db);
    const users = await grantedUsers(db, [folder], 30);
    for (const userId of users) await lockItem(db, { itemId: await addItem(db, { folderId: folder }), userId });
    const srv = await suite.start({ config: quiet });
    const clients: TestWsClient[] = await Promise.all(users.map(async (id) => srv.client(`?token=${await issueToken(db, id)}`)));
    await Promise.all(clients.map((c) => connected(c)));

    const sql = await statementsDuring(db, async () => {
      // Every user's last connection closes at once, as in a redeploy: each user's locks go.
      await Promise.all(clients.map((c) => c.close()));
      await waitFor(async () => Number((await db.knex(db.t.itemsEdition).count({ n: '*' }))[0]!.n) === 0, 'every edition lock released', 30_000);
    });
    const stillConnected = sql.filter((s) => /from `\w*websocket_connections` where `user_id`/.test(s));
    const lockReads = sql.filter((s) => /^select .* from `\w*(items_edition|kb_edition)`/.test(s));
    expect(stillConnected.length, `${stillConnected.length} lookups of open connections for ${users.length} users:\n${stillConnected.join('\n')}`).to.be.within(1, users.length / 5);
    expect(lockReads.length, `${lockReads.length} lock reads for ${users.length} users`).to.be.within(2, (2 * users.length) / 5);
  });

  it('runs the poll as a statement prepared once per pooled connection, not parsed again five times a second', async function () {
    const db = suite.db;
    const statements = await statementsDuring(
      db,
      async () => {
        await suite.startBridge();
        await sleep(1500);
      },
      ['Query', 'Prepare', 'Execute'],
    );
    const polls = statements.filter((s) => /websocket_events` where `id` > /.test(s));
    const executed = polls.filter((s) => s.startsWith('Execute: '));
    const prepared = polls.filter((s) => s.startsWith('Prepare: '));
    expect(polls.filter((s) => s.startsWith('Query: ')), 'polls parsed as text queries').to.deep.equal([]);
    expect(executed.length, `${executed.length} polls executed in 1.5 s`).to.be.at.least(4);
    expect(prepared.length, `prepared ${prepared.length} times for ${executed.length} polls`).to.be.at.most(executed.length / 2);
  });

  it('keeps mysql2 statement caches small on pooled connections', async function () {
    const db = suite.db;
    const client = db.knex.client as Knex.Client & { acquireConnection(): Promise<{ config: { maxPreparedStatements: number } }>; releaseConnection(c: unknown): Promise<void> };
    const conn = await client.acquireConnection();
    try {
      expect(conn.config.maxPreparedStatements).to.equal(PREPARED_STATEMENT_SLOTS);
    } finally {
      await client.releaseConnection(conn);
    }
  });
});
