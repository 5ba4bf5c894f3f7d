import { expect } from 'chai';
import type { Database } from '../../src/db/index.js';
import { forEachBackend } from '../helpers/backends.js';
import {
  addFolder,
  addRole,
  assignRole,
  forbidFolder,
  grantFolder,
  issueToken,
  removeRole,
  revokeFolder,
  seedUser,
  setRoleFolder,
  setTeampassSetting,
  updateUser,
  type SeededUser,
} from '../helpers/teampass-fixture.js';
import type { TestWsClient } from '../helpers/ws-client.js';
import { connected, useServerSuite, waitFor } from './server-harness.js';

forEachBackend("serve: TeamPass's folder access over a real socket", (backend) => {
  const suite = useServerSuite(backend);
  let db: Database;
  beforeEach(() => {
    db = suite.db;
  });
  const start = suite.start;
  const open = async (who: SeededUser): Promise<TestWsClient> => {
    const client = await suite.srv!.client(`?token=${await issueToken(db, who.id)}`);
    expect((await connected(client)).type).to.equal('connected');
    return client;
  };
  const subscribe = async (client: TestWsClient, folderId: number) =>
    (await client.request({ action: 'subscribe', channel: 'folder', data: { folder_id: folderId } })) as { type: string; action?: string; error_code?: string };
  const verdict = async (client: TestWsClient, folderId: number) => {
    const reply = await subscribe(client, folderId);
    return reply.type === 'response' ? 'subscribed' : reply.error_code;
  };

  it('decides case by case as TeamPass does', async () => {
    await setTeampassSetting(db, 'enable_pf_feature', '1');
    const user = await seedUser(db, { personalFolder: true });
    const other = await seedUser(db, { personalFolder: true });
    const readOnly = await addFolder(db, { title: 'read-only' });
    const writable = await addFolder(db, { title: 'writable' });
    const emptyType = await addFolder(db, { title: 'empty type' });
    const direct = await addFolder(db, { title: 'direct' });
    const forbidden = await addFolder(db, { title: 'forbidden' });
    const viaLdap = await addFolder(db, { title: 'ldap role' });
    const unrelated = await addFolder(db, { title: 'unrelated' });
    const own = await addFolder(db, { ownerId: user.id });
    const ownChild = await addFolder(db, { parentId: own, personal: true, title: 'own child' });
    const theirs = await addFolder(db, { ownerId: other.id });
    await assignRole(db, user.id, await addRole(db, { [readOnly]: 'R', [writable]: 'NDNE', [emptyType]: '', [forbidden]: 'W', [theirs]: 'W' }));
    await assignRole(db, user.id, await addRole(db, { [viaLdap]: 'W' }), 'ldap');
    await grantFolder(db, user.id, direct);
    await forbidFolder(db, user.id, forbidden);
    await start({ config: { rate_limit_messages: 100 } });
    const client = await open(user);
    const expected: Array<[string, number, string]> = [
      ['R role (read-only is readable)', readOnly, 'subscribed'],
      ['NDNE role', writable, 'subscribed'],
      ["'' type", emptyType, 'forbidden'],
      ['direct grant', direct, 'subscribed'],
      ['forbidden folder', forbidden, 'forbidden'],
      ['ldap-sourced role', viaLdap, 'forbidden'],
      ['unrelated folder', unrelated, 'forbidden'],
      ['own personal folder', own, 'subscribed'],
      ['own personal sub-folder', ownChild, 'subscribed'],
      ["another user's personal folder, even via a role", theirs, 'forbidden'],
      ['a folder that does not exist', 999_999, 'forbidden'],
    ];
    for (const [title, folderId, outcome] of expected) expect(await verdict(client, folderId), title).to.equal(outcome);
  });

  it('keeps personal folders closed without enable_pf_feature', async () => {
    const user = await seedUser(db, { personalFolder: true });
    const own = await addFolder(db, { ownerId: user.id });
    await start();
    expect(await verdict(await open(user), own)).to.equal('forbidden');
  });

  it('lets admins into every non-personal folder, never a personal one', async () => {
    await setTeampassSetting(db, 'enable_pf_feature', '1');
    const admin = await seedUser(db, { admin: true, personalFolder: true });
    const shared = await addFolder(db);
    const own = await addFolder(db, { ownerId: admin.id });
    await start();
    const client = await open(admin);
    expect(await verdict(client, shared)).to.equal('subscribed');
    expect(await verdict(client, own)).to.equal('forbidden');
  });

  it('sees a grant made after the connection opened', async () => {
    const user = await seedUser(db);
    const folder = await addFolder(db);
    await start({ config: { session_check_sec: 3600 } });
    const client = await open(user);
    expect(await verdict(client, folder)).to.equal('forbidden');
    await grantFolder(db, user.id, folder);
    await new Promise((r) => setTimeout(r, 2100));
    expect(await verdict(client, folder)).to.equal('subscribed');
  });

  describe('revocation', () => {
    it('folderPermissionChanged drops lost subscriptions and tells the client', async () => {
      const [a, b] = [await addFolder(db), await addFolder(db)];
      const user = await seedUser(db);
      const role = await addRole(db, { [a]: 'W', [b]: 'W' });
      await assignRole(db, user.id, role);
      await start({ config: { session_check_sec: 3600 } });
      const client = await open(user);
      await subscribe(client, a);
      await subscribe(client, b);
      await setRoleFolder(db, role, a, null);
      await suite.srv!.server.hooks.folderPermissionChanged(user.id);
      expect(await client.next((f) => f.action === 'unsubscribed')).to.deep.equal({
        type: 'response',
        status: 'success',
        action: 'unsubscribed',
        channel: 'folder',
        folder_id: a,
        reason: 'access_revoked',
      });
      expect((await client.request({ action: 'get_status' })).subscriptions).to.deep.equal([`folder:${b}`]);
      const target = [...suite.srv!.server.directory.byUser(user.id)][0];
      expect(target.mayAccessFolder(a)).to.equal(false);
      expect(target.isSubscribedToFolder(a)).to.equal(false);
    });

    it('keeps a direct grant through a recheck (the PHP daemon drops it)', async () => {
      const folder = await addFolder(db);
      const user = await seedUser(db);
      await grantFolder(db, user.id, folder);
      await start();
      const client = await open(user);
      await subscribe(client, folder);
      await suite.srv!.server.hooks.folderPermissionChanged(user.id);
      expect((await client.request({ action: 'get_status' })).subscriptions).to.deep.equal([`folder:${folder}`]);
    });

    /** A user subscribed to a folder through a role, past the first periodic check; `change` then happens behind its back. */
    const revokedBehindItsBack = async (change: (role: number, folder: number, userId: number) => Promise<void>) => {
      const folder = await addFolder(db);
      const user = await seedUser(db);
      const role = await addRole(db, { [folder]: 'W' });
      await assignRole(db, user.id, role);
      await start({ config: { session_check_sec: 1 } });
      const client = await open(user);
      await subscribe(client, folder);
      await new Promise((r) => setTimeout(r, 1200));
      await change(role, folder, user.id);
      expect(await client.next((f) => f.action === 'unsubscribed', 5000)).to.include({ folder_id: folder, reason: 'access_revoked' });
    };

    it('notices a role removed behind its back within session_check_sec', async () => {
      await revokedBehindItsBack((role, _folder, userId) => removeRole(db, userId, role));
    });

    it('drops the KB subscription when the KB channel is switched off', async () => {
      await setTeampassSetting(db, 'enable_kb', '1');
      const user = await seedUser(db);
      await start({ config: { session_check_sec: 1, access_refresh_sec: 1 } });
      const client = await open(user);
      expect((await client.request({ action: 'subscribe', channel: 'kb' })).action).to.equal('subscribed');
      await setTeampassSetting(db, 'enable_kb', '0');
      expect(await client.next((f) => f.action === 'unsubscribed', 6000)).to.deep.equal({
        type: 'response',
        status: 'success',
        action: 'unsubscribed',
        channel: 'kb',
        reason: 'access_revoked',
      });
    });

    describe('changes TeamPass makes without a folder_permission_changed event, seen at the next session check', () => {
      // access_refresh_sec stays at its default (300 s): only the periodic change check can notice these.
      it("a role's folder type changed in roles_values", async () => {
        await revokedBehindItsBack((role, folder) => setRoleFolder(db, role, folder, ''));
      });

      it('enable_pf_feature turned off', async () => {
        await setTeampassSetting(db, 'enable_pf_feature', '1');
        const user = await seedUser(db, { personalFolder: true });
        const own = await addFolder(db, { ownerId: user.id });
        await start({ config: { session_check_sec: 1 } });
        const client = await open(user);
        expect(await verdict(client, own)).to.equal('subscribed');
        await new Promise((r) => setTimeout(r, 1200));
        await setTeampassSetting(db, 'enable_pf_feature', '0');
        expect(await client.next((f) => f.action === 'unsubscribed', 5000)).to.include({ folder_id: own, reason: 'access_revoked' });
      });

      it('enable_kb turned off', async () => {
        await setTeampassSetting(db, 'enable_kb', '1');
        const user = await seedUser(db);
        await start({ config: { session_check_sec: 1 } });
        const client = await open(user);
        expect((await client.request({ action: 'subscribe', channel: 'kb' })).action).to.equal('subscribed');
        await new Promise((r) => setTimeout(r, 1200));
        await setTeampassSetting(db, 'enable_kb', '0');
        expect(await client.next((f) => f.action === 'unsubscribed', 5000)).to.include({ channel: 'kb', reason: 'access_revoked' });
      });

      it('an admin demoted mid-connection loses get_stats', async () => {
        const admin = await seedUser(db, { admin: true });
        await start({ config: { session_check_sec: 1 } });
        const client = await open(admin);
        expect((await client.request({ action: 'get_stats' })).type).to.equal('stats');
        await new Promise((r) => setTimeout(r, 1200));
        await updateUser(db, admin.id, { admin: 0 });
        // Asked at most three times a second, well inside the message rate limit.
        await waitFor(async () => {
          await new Promise((r) => setTimeout(r, 300));
          return (await client.request({ action: 'get_stats' })).error_code === 'forbidden';
        }, 'get_stats is refused once the user is no longer an administrator', 5000);
      });
    });

    it('with the event bridge: a folder_permission_changed event revokes before the next folder event', async () => {
      await setTeampassSetting(db, 'websocket_enabled', '1');
      const folder = await addFolder(db);
      const user = await seedUser(db);
      await grantFolder(db, user.id, folder);
      await start({ bridge: true, config: { session_check_sec: 3600 } });
      const client = await open(user);
      await subscribe(client, folder);
      await revokeFolder(db, user.id, folder);
      await db.knex(db.t.events).insert([
        { event_type: 'folder_permission_changed', target_type: 'user', target_id: user.id, payload: JSON.stringify({ source: 'direct_grant' }) },
        { event_type: 'item_created', target_type: 'folder', target_id: folder, payload: JSON.stringify({ item_id: 1, folder_id: folder, label: 'secret' }) },
        { event_type: 'system_maintenance', target_type: 'broadcast', target_id: null, payload: JSON.stringify({ message: 'after' }) },
      ]);
      expect((await client.next((f) => f.event === 'folder_permission_changed', 5000)).data).to.deep.equal({ source: 'direct_grant' });
      expect(await client.next((f) => f.action === 'unsubscribed', 5000)).to.include({ folder_id: folder, reason: 'access_revoked' });
      await client.next((f) => f.event === 'system_maintenance', 5000);
      expect(client.received.some((f) => f.event === 'item_created'), 'the folder event after the revocation').to.equal(false);
    });
  });
});
