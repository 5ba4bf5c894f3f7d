import { expect } from 'chai';
import { isBadEvent, isRecoverable, parseEventRow, type RoutableEvent } from '../../src/bridge/index.js';
import { toEventRow, type EventRow } from '../../src/db/index.js';

const row = (over: Partial<EventRow>): EventRow => ({
  id: 42,
  event_type: 'item_updated',
  target_type: 'folder',
  target_id: 10,
  payload: '{"item_id":5,"folder_id":10,"exclude_user_id":"3"}',
  processed: 0,
  created_unix: 1_700_000_000,
  ...over,
});

describe('bridge: event rows and frames', () => {
  it("builds TeamPass's frame with the payload as stored and the event id", () => {
    const e = parseEventRow(row({})) as RoutableEvent;
    expect(e.frame).to.equal('{"type":"event","event":"item_updated","data":{"item_id":5,"folder_id":10,"exclude_user_id":"3"},"timestamp":1700000000,"event_id":42}');
    expect(e.excludeUserId).to.equal(3);
    expect(e.targetId).to.equal(10);
  });

  it('accepts payloads the driver already parsed (MySQL JSON columns)', () => {
    const driverRow = { ...row({ event_type: 'session_expired', target_type: 'user' }), target_id: '7', payload: { reason: 'session_timeout' } };
    const e = parseEventRow(toEventRow(driverRow)) as RoutableEvent;
    expect(JSON.parse(e.frame).data).to.deep.equal({ reason: 'session_timeout' });
    expect(e.reason).to.equal('session_timeout');
    expect(e.targetId).to.equal(7);
  });

  it('drops target_id for kb and broadcast events', () => {
    const e = parseEventRow(row({ target_type: 'kb', target_id: 3 })) as RoutableEvent;
    expect(e.targetId).to.equal(null);
  });

  it('names what is wrong with a row that cannot be delivered', () => {
    const cases: Array<[Partial<EventRow>, string]> = [
      [{ payload: '{"item_id":' }, 'invalid_payload'],
      [{ payload: null }, 'invalid_payload'],
      [{ target_type: '' }, 'unknown_target_type'],
      [{ target_type: 'team' }, 'unknown_target_type'],
      [{ target_type: 'user', target_id: null }, 'missing_target_id'],
      [{ target_id: null }, 'missing_target_id'],
      [{ event_type: '' }, 'missing_event_type'],
    ];
    for (const [over, reason] of cases) {
      const e = parseEventRow(row(over));
      expect(isBadEvent(e), JSON.stringify(over)).to.equal(true);
      expect((e as { bad: string }).bad, JSON.stringify(over)).to.equal(reason);
    }
  });
});

describe('bridge: recoverable history', () => {
  it('is complete when the oldest retained id follows since', () => {
    expect(isRecoverable(9, { oldest: 10, newest: 20 }, 20)).to.equal(true);
    expect(isRecoverable(15, { oldest: 10, newest: 20 }, 20)).to.equal(true);
    expect(isRecoverable(8, { oldest: 10, newest: 20 }, 20)).to.equal(false);
  });

  it('is not, for an id newer than anything this database has seen', () => {
    expect(isRecoverable(21, { oldest: 10, newest: 20 }, 20)).to.equal(false);
    expect(isRecoverable(22, { oldest: 10, newest: 20 }, 22)).to.equal(true);
  });

  it('with an empty table, is complete only when nothing was dispatched after since', () => {
    expect(isRecoverable(30, { oldest: null, newest: null }, 30)).to.equal(true);
    expect(isRecoverable(29, { oldest: null, newest: null }, 30)).to.equal(false);
  });
});
