import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { TeampassWsError } from '../../src/errors.js';
import { planEvent, type PlanInput } from '../../src/ops/emit-plan.js';
import { EVENT_CATALOGUE } from '../../src/ops/events-catalogue.js';
import { parsePair, readPayload } from '../../src/ops/payload.js';
import { tempDir } from '../helpers/backends.js';

function failsWith(fn: () => unknown, pattern: RegExp, exitCode: 1 | 2 = 1): TeampassWsError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(TeampassWsError);
    expect((err as TeampassWsError).message).to.match(pattern);
    expect((err as TeampassWsError).exitCode).to.equal(exitCode);
    expect((err as TeampassWsError).suggestion, 'every input error says what to do').to.be.a('string').and.not.empty;
    return err as TeampassWsError;
  }
  throw new Error(`expected an error matching ${pattern}`);
}

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    expect((err as Error).message).to.match(pattern);
    return;
  }
  throw new Error(`expected a rejection matching ${pattern}`);
}

const plan = (overrides: Partial<PlanInput>) => planEvent({ eventType: 'item_created', payload: {}, target: {}, nowSec: 1_700_000_000, ...overrides });
const item = { item_id: 12, folder_id: 3, label: 'VPN', created_by: 1 };

describe('emit payload parsing', () => {
  it('turns key=value into strings and numbers, key:=<json> into JSON', () => {
    expect(parsePair('item_id=12')).to.deep.equal(['item_id', 12]);
    expect(parsePair('percent=12.5')).to.deep.equal(['percent', 12.5]);
    expect(parsePair('label=VPN router')).to.deep.equal(['label', 'VPN router']);
    expect(parsePair('code=007'), 'leading zeros stay text').to.deep.equal(['code', '007']);
    expect(parsePair('label=')).to.deep.equal(['label', '']);
    expect(parsePair('url=http://x/?a=b')).to.deep.equal(['url', 'http://x/?a=b']);
    expect(parsePair('folders:=[1,2]')).to.deep.equal(['folders', [1, 2]]);
    expect(parsePair('flag:=true')).to.deep.equal(['flag', true]);
    expect(parsePair('big=90071992547409931')).to.deep.equal(['big', '90071992547409931']);
    failsWith(() => parsePair('folders:=[1,'), /"folders".*not valid JSON/);
    failsWith(() => parsePair('label'), /not a key=value pair/);
    failsWith(() => parsePair('=5'), /not a key=value pair/);
  });

  it('reads --data, --data-file and stdin, with pairs on top; refuses anything but one object', async () => {
    expect(await readPayload({ data: '{"a":1,"b":"x"}', pairs: ['b=y'] })).to.deep.equal({ a: 1, b: 'y' });
    const dir = tempDir();
    writeFileSync(path.join(dir, 'p.json'), '{"message": "hi"}');
    expect(await readPayload({ dataFile: 'p.json', cwd: dir })).to.deep.equal({ message: 'hi' });
    expect(await readPayload({ dataFile: '-', readStdin: async () => '{"x": [1]}' })).to.deep.equal({ x: [1] });
    await rejectsWith(readPayload({ data: '{bad' }), /--data is not valid JSON/);
    await rejectsWith(readPayload({ data: '[1,2]' }), /must be one JSON object, not an array/);
    await rejectsWith(readPayload({ data: 'null' }), /not null/);
    await rejectsWith(readPayload({ data: '5' }), /not number/);
    await rejectsWith(readPayload({ dataFile: 'missing.json', cwd: dir }), /Cannot read --data-file .*missing\.json: no such file/);
    await rejectsWith(readPayload({ data: '{}', dataFile: 'p.json' }), /cannot be combined/);
  });
});

describe('emit planning', () => {
  it("adds server_timestamp and exclude_user_id as TeamPass's producer does", () => {
    const p = plan({ payload: { ...item, server_timestamp: 5 }, target: { excludeUser: '1' } });
    expect(p.payload).to.deep.equal({ ...item, exclude_user_id: 1, server_timestamp: 1_700_000_000 });
    expect(p.rows).to.deep.equal([{ targetType: 'folder', targetId: 3 }]);
    expect(p.targetSource).to.equal('catalogue');
  });

  it('infers targets from the catalogue', () => {
    expect(plan({ eventType: 'kb_created', payload: { kb_id: 1, label: 'x', created_by: 2 } }).rows).to.deep.equal([{ targetType: 'kb', targetId: null }]);
    expect(plan({ eventType: 'system_maintenance', payload: { message: 'x' } }).rows).to.deep.equal([{ targetType: 'broadcast', targetId: null }]);
    const moved = plan({ eventType: 'item_moved', payload: { item_id: 1, from_folder_id: 3, to_folder_id: '4', label: 'x', moved_by: 2 } });
    expect(moved.rows, 'one row per folder, as TeamPass writes item_moved').to.deep.equal([
      { targetType: 'folder', targetId: 3 },
      { targetType: 'folder', targetId: 4 },
    ]);
    for (const [eventType, actor] of [['folder_created', 'created_by'], ['folder_updated', 'updated_by'], ['folder_deleted', 'deleted_by']]) {
      const child = plan({ eventType, payload: { folder_id: 9, title: 't', parent_id: 4, [actor]: 1 } });
      expect(child.rows, `${eventType} goes to the parent, as TeamPass writes it`).to.deep.equal([{ targetType: 'folder', targetId: 4 }]);
      failsWith(() => plan({ eventType, payload: { folder_id: 9, title: 't', parent_id: 0, [actor]: 1 } }), /root-level folder.*folder 0, which no daemon delivers/);
      const root = plan({ eventType, payload: { folder_id: 9, title: 't', parent_id: '0', [actor]: 1 }, force: true });
      expect(root.rows, 'with --force, target 0 as TeamPass writes it').to.deep.equal([{ targetType: 'folder', targetId: 0 }]);
      expect(root.warnings.join()).to.contain('which no daemon delivers');
    }
    const keys = plan({ eventType: 'user_keys_ready', payload: { user_id: 7, status: 'done', message: 'ok' } });
    expect(keys.rows).to.deep.equal([{ targetType: 'user', targetId: 7 }]);
  });

  it('takes an explicit target over the inferred one, and says when TeamPass would send it elsewhere', () => {
    const p = plan({ payload: item, target: { user: '5' } });
    expect(p.rows).to.deep.equal([{ targetType: 'user', targetId: 5 }]);
    expect(p.targetSource).to.equal('flag');
    expect(p.warnings.join()).to.contain('TeamPass sends item_created to a folder');
    expect(plan({ payload: item, target: { folder: '3' } }).warnings).to.deep.equal([]);
    expect(plan({ payload: item, target: { folder: '8' } }).warnings.join()).to.contain("--folder 8 sends it to folder 8, but the payload's folder_id is 3");
  });

  it('refuses a missing target, conflicting targets and non-numeric ids', () => {
    failsWith(() => plan({ eventType: 'folder_permission_changed', payload: { source: 'direct_grant' } }), /No target for folder_permission_changed/);
    failsWith(() => plan({ payload: { ...item, folder_id: 'abc' } }), /folder_id of item_created must be a numeric id, not "abc"/);
    failsWith(() => plan({ eventType: 'custom', force: true, payload: {} }), /No target for "custom"/);
    failsWith(() => plan({ payload: item, target: { folder: '3', broadcast: true } }), /one target, not --folder and --broadcast/, 2);
    for (const bad of ['abc', '0', '-1', '1.5', '4294967296', '']) failsWith(() => plan({ payload: item, target: { folder: bad } }), /--folder needs a numeric id/);
    failsWith(() => plan({ payload: item, target: { user: 'x' } }), /--user needs a numeric id/);
    failsWith(() => plan({ payload: item, target: { excludeUser: 'me' } }), /--exclude-user needs a numeric id/);
  });

  it("checks known events' required fields and values; --force sends them anyway", () => {
    failsWith(() => plan({ payload: { item_id: 1, folder_id: 3 } }), /item_created is incomplete: missing label, created_by/);
    failsWith(() => plan({ eventType: 'folder_permission_changed', payload: { role_id: 1 }, target: { user: '2' } }), /either role_id, folders, access or source/);
    failsWith(() => plan({ eventType: 'session_expired', payload: { reason: 'bored' }, target: { user: '2' } }), /reason of session_expired must be one of session_timeout/);
    const forced = plan({ payload: { folder_id: 3 }, force: true });
    expect(forced.rows).to.deep.equal([{ targetType: 'folder', targetId: 3 }]);
    expect(forced.warnings.join()).to.contain('payload incomplete');
  });

  it('needs --force for an event type TeamPass does not write, and suggests the one a typo meant', () => {
    const err = failsWith(() => plan({ eventType: 'item_crated', payload: item }), /"item_crated" is not an event TeamPass writes/);
    expect(err.suggestion).to.contain('Did you mean item_created?');
    const p = plan({ eventType: 'my_event', payload: { a: 1 }, target: { broadcast: true }, force: true });
    expect(p.known).to.equal(false);
    failsWith(() => plan({ eventType: 'bad type', payload: {}, target: { broadcast: true }, force: true }), /not a usable event type/);
    failsWith(() => plan({ eventType: 'x'.repeat(51), payload: {}, target: { broadcast: true }, force: true }), /not a usable event type/);
  });

  it('has a target and at least one field set for every catalogued event', () => {
    for (const [name, spec] of Object.entries(EVENT_CATALOGUE)) {
      expect(['user', 'folder', 'kb', 'broadcast'], name).to.include(spec.target);
      expect(spec.required.length, name).to.be.greaterThan(0);
      if (spec.target === 'folder') expect(spec.targetFields?.length, `${name} names its folder`).to.be.greaterThan(0);
    }
  });
});
