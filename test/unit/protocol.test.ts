import { expect } from 'chai';
import { classify, parseClientMessage, readFrame, validate, MAX_ID } from '../../src/protocol/index.js';

const LIMIT = 65_536;

function parse(value: unknown) {
  return parseClientMessage(typeof value === 'string' ? value : JSON.stringify(value), LIMIT);
}

describe('protocol: client messages', () => {
  describe('checks in the PHP daemon order', () => {
    it('refuses a message over max_message_size before reading it', () => {
      const big = JSON.stringify({ action: 'ping', pad: 'x'.repeat(200) });
      const r = parseClientMessage(big, 100);
      expect(r).to.deep.include({ ok: false, code: 'message_too_large' });
      expect(r).not.to.have.property('requestId');
    });

    it('counts bytes, not characters', () => {
      const text = JSON.stringify({ action: 'ping', pad: 'é'.repeat(40) });
      expect(text.length).to.be.below(100);
      expect(readFrame(text, 100)).to.deep.include({ ok: false, code: 'message_too_large' });
    });

    it('refuses bad JSON without a request id', () => {
      const r = parse('{"action": "ping",');
      expect(r).to.deep.equal({ ok: false, code: 'invalid_json', message: 'Message must be valid JSON.' });
    });

    it('answers unknown_action for an unknown or missing action, echoing the request id', () => {
      expect(parse({ action: 'explode', request_id: 'req_1' })).to.deep.include({ ok: false, code: 'unknown_action', requestId: 'req_1' });
      expect(parse({ request_id: 'req_2' })).to.deep.include({ ok: false, code: 'unknown_action', requestId: 'req_2' });
      expect(parse([1, 2])).to.deep.include({ ok: false, code: 'unknown_action', requestId: null });
      expect(parse('42')).to.deep.include({ ok: false, code: 'unknown_action' });
    });

    it('does not treat inherited names as actions', () => {
      expect(parse({ action: 'toString' })).to.deep.include({ code: 'unknown_action' });
      expect(parse({ action: 'constructor' })).to.deep.include({ code: 'unknown_action' });
    });
  });

  describe('typed messages', () => {
    it('reads subscribe to a folder, accepting a digit string as TeamPass pages send', () => {
      expect(parse({ action: 'subscribe', channel: 'folder', data: { folder_id: 12 }, request_id: 'req_a' })).to.deep.equal({
        ok: true,
        message: { action: 'subscribe', channel: 'folder', folder_id: 12, request_id: 'req_a' },
      });
      expect(parse({ action: 'subscribe', channel: 'folder', data: { folder_id: '12' } })).to.deep.equal({
        ok: true,
        message: { action: 'subscribe', channel: 'folder', folder_id: 12, request_id: null },
      });
    });

    it('reads since_event_id on subscribe', () => {
      expect(parse({ action: 'subscribe', channel: 'kb', data: { since_event_id: 0 } })).to.deep.equal({
        ok: true,
        message: { action: 'subscribe', channel: 'kb', since_event_id: 0, request_id: null },
      });
    });

    it('reads every other action', () => {
      for (const action of ['ping', 'pong', 'get_status', 'get_stats']) {
        expect(parse({ action, request_id: 7 })).to.deep.equal({ ok: true, message: { action, request_id: 7 } });
      }
      expect(parse({ action: 'unsubscribe', channel: 'kb' })).to.deep.include({ ok: true });
      expect(parse({ action: 'start_item_view', data: { item_id: 5 } })).to.deep.equal({ ok: true, message: { action: 'start_item_view', item_id: 5, request_id: null } });
      expect(parse({ action: 'stop_item_view', data: {} })).to.deep.equal({
        ok: true,
        message: { action: 'stop_item_view', item_id: null, folder_id: null, request_id: null },
      });
      expect(parse({ action: 'stop_item_view', data: { item_id: 0, folder_id: '3' } })).to.deep.equal({
        ok: true,
        message: { action: 'stop_item_view', item_id: null, folder_id: 3, request_id: null },
      });
      expect(parse({ action: 'start_kb_view', data: { kb_id: 2 } })).to.deep.include({ ok: true });
      expect(parse({ action: 'stop_kb_view' })).to.deep.equal({ ok: true, message: { action: 'stop_kb_view', kb_id: null, request_id: null } });
      expect(parse({ action: 'renew_item_lock', data: { item_id: 9 } })).to.deep.include({ ok: true });
      expect(parse({ action: 'renew_kb_lock', data: { kb_id: 9 } })).to.deep.include({ ok: true });
      expect(parse({ action: 'authenticate', token: 'abc' })).to.deep.equal({ ok: true, message: { action: 'authenticate', token: 'abc', request_id: null } });
    });
  });

  describe('invalid_request names the bad field', () => {
    const cases: Array<[string, unknown, string | RegExp]> = [
      ['folder_id "abc"', { action: 'unsubscribe', channel: 'folder', data: { folder_id: 'abc' } }, /^data\.folder_id must be a positive integer id/],
      ['folder_id as an array', { action: 'unsubscribe', channel: 'folder', data: { folder_id: [1] } }, /data\.folder_id .*got an array/],
      ['folder_id too large', { action: 'unsubscribe', channel: 'folder', data: { folder_id: MAX_ID + 1 } }, /data\.folder_id/],
      ['folder_id fractional', { action: 'unsubscribe', channel: 'folder', data: { folder_id: 1.5 } }, /data\.folder_id/],
      ['folder_id missing', { action: 'unsubscribe', channel: 'folder', data: {} }, 'data.folder_id is required.'],
      ['folder_id an object', { action: 'unsubscribe', channel: 'folder', data: { folder_id: { n: 1 } } }, /data\.folder_id .*got an object/],
      ['data an array', { action: 'subscribe', channel: 'folder', data: [1] }, /^data must be an object/],
      ['data a string', { action: 'start_item_view', data: 'x' }, /^data must be an object/],
      ['channel missing', { action: 'subscribe', data: { folder_id: 1 } }, /^channel is required/],
      ['channel a number', { action: 'subscribe', channel: 3 }, /^channel must be a string/],
      ['item_id missing', { action: 'start_item_view', data: {} }, 'data.item_id is required.'],
      ['item_id a boolean', { action: 'renew_item_lock', data: { item_id: true } }, /data\.item_id .*got true/],
      ['kb_id a float string', { action: 'start_kb_view', data: { kb_id: '1.5' } }, /data\.kb_id/],
      ['optional item_id wrong type', { action: 'stop_item_view', data: { item_id: 'x' } }, /data\.item_id/],
      ['since_event_id negative', { action: 'subscribe', channel: 'kb', data: { since_event_id: -1 } }, /data\.since_event_id/],
      ['__proto__ at the top', '{"action":"ping","__proto__":{"admin":1}}', '__proto__ is not an allowed key.'],
      ['__proto__ in data', '{"action":"subscribe","channel":"folder","data":{"folder_id":1,"__proto__":{"x":1}}}', 'data.__proto__ is not an allowed key.'],
      ['constructor deep inside', { action: 'ping', extra: { a: [{ constructor: 1 }] } }, 'extra.a[0].constructor is not an allowed key.'],
      ['request_id an object', { action: 'ping', request_id: { a: 1 } }, /^request_id must be/],
      ['token not a string', { action: 'authenticate', token: 5 }, /^token must be a non-empty string/],
      ['token empty', { action: 'authenticate', token: '' }, /^token must be/],
    ];
    for (const [title, message, expected] of cases) {
      it(title, () => {
        const r = parse(message);
        expect(r.ok, JSON.stringify(r)).to.equal(false);
        if (r.ok) return;
        expect(r.code).to.equal('invalid_request');
        if (typeof expected === 'string') expect(r.message).to.equal(expected);
        else expect(r.message).to.match(expected);
      });
    }

    it('never repeats a token in its message', () => {
      const r = parse({ action: 'authenticate', token: ['a'.repeat(64)] });
      expect(JSON.stringify(r)).not.to.contain('a'.repeat(64));
    });

    it('answers forbidden for a subscribe whose folder_id is no folder id, as PHP\'s (int) cast makes it folder 0', () => {
      for (const folderId of ['abc', [1], MAX_ID + 1, 1e300, 1.5, -3, 0, '', undefined]) {
        const r = parse({ action: 'subscribe', channel: 'folder', data: folderId === undefined ? {} : { folder_id: folderId }, request_id: 'r' });
        expect(r, JSON.stringify(folderId)).to.deep.include({ ok: false, code: 'forbidden', requestId: 'r' });
        if (!r.ok) expect(r.message).to.match(/^Access denied to this folder: data\.folder_id must be a folder id \(got /);
      }
    });

    it('answers invalid_channel for an unsubscribe without a string channel, invalid_request for such a subscribe', () => {
      for (const channel of [undefined, 3, ['kb']]) {
        expect(parse({ action: 'unsubscribe', channel, data: { folder_id: 1 } }), JSON.stringify(channel)).to.deep.include({ ok: false, code: 'invalid_channel' });
      }
    });

    it('leaves a missing kb_id to the server, which checks KB access first', () => {
      expect(parse({ action: 'start_kb_view', data: {} })).to.deep.equal({ ok: true, message: { action: 'start_kb_view', kb_id: null, request_id: null } });
      expect(parse({ action: 'renew_kb_lock' })).to.deep.equal({ ok: true, message: { action: 'renew_kb_lock', kb_id: null, request_id: null } });
    });

    it('answers invalid_channel for an unknown channel', () => {
      expect(parse({ action: 'subscribe', channel: 'items' })).to.deep.include({ ok: false, code: 'invalid_channel' });
      expect(parse({ action: 'unsubscribe', channel: 'items', request_id: 'r' })).to.deep.include({ ok: false, code: 'invalid_channel', requestId: 'r' });
    });

    it('keeps the request id on a refusal so the client can match it', () => {
      expect(parse({ action: 'subscribe', channel: 'folder', data: { folder_id: 1, since_event_id: 'x' }, request_id: 'req_x' })).to.deep.include({ requestId: 'req_x' });
    });

    it('splits into classify and validate so a rate limit can sit between them', () => {
      const c = classify({ action: 'ping', request_id: 'r' });
      expect(c.ok).to.equal(true);
      if (c.ok) expect(validate(c.value)).to.deep.equal({ ok: true, message: { action: 'ping', request_id: 'r' } });
    });
  });
});
