import { expect } from 'chai';
import type { Database } from '../../src/db/index.js';
import { forEachBackend } from '../helpers/backends.js';
import { issueToken, seedUser } from '../helpers/teampass-fixture.js';
import { PRECISE_CLOSE_CODES, type TestWsClient } from '../helpers/ws-client.js';
import { connected, useServerSuite } from './server-harness.js';

/**
 * TeamPass's page warns its user on any close code but 1000: a client that offers no subprotocol
 * gets the PHP daemon's in-band error, then 1000; one that offers `teampass-ws` gets it selected
 * and the precise codes.
 */
forEachBackend('serve: close codes, as the PHP daemon unless the client asks for more', (backend) => {
  const suite = useServerSuite(backend);
  let db: Database;
  beforeEach(() => {
    db = suite.db;
  });
  const start = suite.start;
  const login = async () => issueToken(db, (await seedUser(db)).id);

  /** The in-band error, then a clean close with 1000. */
  const expectPhpRefusal = async (client: TestWsClient, errorCode: string) => {
    expect(await client.next()).to.include({ type: 'error', error_code: errorCode });
    expect((await client.waitClose()).code).to.equal(1000);
  };

  it('selects teampass-ws in the handshake only when the client offers it', async () => {
    await start();
    const precise = await suite.srv!.client(`?token=${await login()}`, PRECISE_CLOSE_CODES);
    const page = await suite.srv!.client(`?token=${await login()}`);
    expect(precise.ws.protocol).to.equal('teampass-ws');
    expect(page.ws.protocol).to.equal('');
    for (const c of [precise, page]) expect((await connected(c)).type).to.equal('connected');
    const refused = await suite.srv!.client(`?token=${await login()}`, { protocols: ['chat'] }).then(
      () => 'selected',
      (err: Error) => err.message,
    );
    expect(refused, 'an unknown subprotocol is not selected').to.equal('Server sent no subprotocol');
  });

  it('auth_failed, then 1000', async () => {
    await start();
    await expectPhpRefusal(await suite.srv!.client(`?token=${'e'.repeat(64)}`), 'auth_failed');
  });

  it('auth_failed for a first-message token, then 1000', async () => {
    await start();
    const client = await suite.srv!.client();
    client.send({ action: 'authenticate', token: 'f'.repeat(64) });
    await expectPhpRefusal(client, 'auth_failed');
  });

  it('max_connections, then 1000', async () => {
    const token = await login();
    await start({ config: { max_connections_per_user: 1 } });
    expect((await connected(await suite.srv!.client(`?token=${token}`))).type).to.equal('connected');
    await expectPhpRefusal(await suite.srv!.client(`?token=${token}`), 'max_connections');
  });

  it('rate_limited (failed authentications from one address), then 1000', async () => {
    await start();
    const headers = { 'X-Forwarded-For': '203.0.113.70' };
    for (let i = 0; i < 10; i++) await expectPhpRefusal(await suite.srv!.client(`?token=${'0'.repeat(64)}`, { headers }), 'auth_failed');
    await expectPhpRefusal(await suite.srv!.client(`?token=${await login()}`, { headers }), 'rate_limited');
  });

  it('origin_not_allowed, then 1000', async () => {
    await start({ config: { allowed_origins: ['https://teampass.example.test'] } });
    await expectPhpRefusal(await suite.srv!.client(`?token=${await login()}`, { origin: 'https://evil.example' }), 'origin_not_allowed');
  });

  it('auth_timeout, then 1000', async () => {
    await start({ config: { auth_timeout_sec: 1 } });
    await expectPhpRefusal(await suite.srv!.client(), 'auth_timeout');
  });

  it('session_expired, then 1000', async () => {
    const user = await seedUser(db);
    await start();
    const client = await suite.srv!.client(`?token=${await issueToken(db, user.id)}`);
    expect((await connected(client)).type).to.equal('connected');
    suite.srv!.server.hooks.sessionExpired(user.id, 'session_timeout');
    expect((await client.waitClose()).code).to.equal(1000);
  });

  it('a frame over max_frame_bytes: 1000 instead of 1009', async () => {
    await start({ config: { max_frame_bytes: 4096, max_message_size: 1024 } });
    const client = await suite.srv!.client(`?token=${await login()}`);
    await connected(client);
    client.send(JSON.stringify({ action: 'ping', pad: 'y'.repeat(8000) }));
    expect((await client.waitClose()).code).to.equal(1000);
  });

});
