/**
 * The boundary: raw frames become typed messages here and nowhere else. Checks run in the PHP
 * daemon's order (size, JSON, action; the rate limit sits between `classify` and `validate` in
 * the server) and every refusal names the field that was wrong.
 */
import type { ErrorCode } from './codes.js';
import { isAction, type Action, type ClientMessage, type RequestId } from './client-messages.js';

export type Refusal = { ok: false; code: ErrorCode; message: string };

/** The largest id TeamPass's INT UNSIGNED columns hold. */
export const MAX_ID = 4_294_967_295;
const MAX_REQUEST_ID_LENGTH = 200;
const MAX_TOKEN_LENGTH = 8192;
const MAX_DEPTH = 16;
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Step 1: size and JSON. */
export function readFrame(raw: Buffer | string, maxMessageSize: number): { ok: true; value: unknown } | Refusal {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > maxMessageSize) {
    return { ok: false, code: 'message_too_large', message: `Message exceeds maximum size of ${maxMessageSize} bytes.` };
  }
  try {
    return { ok: true, value: JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8')) };
  } catch {
    return { ok: false, code: 'invalid_json', message: 'Message must be valid JSON.' };
  }
}

export interface Classified {
  action: Action;
  requestId: RequestId;
  body: Record<string, unknown>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a reply may echo: a sane string or number, else null (the field is then refused by `validate`). */
export function echoableRequestId(value: unknown): RequestId {
  if (typeof value === 'string' && value.length <= MAX_REQUEST_ID_LENGTH) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  return null;
}

/** Step 2: is it an action we know? */
export function classify(value: unknown): { ok: true; value: Classified } | (Refusal & { requestId: RequestId }) {
  if (!isPlainObject(value)) {
    return { ok: false, code: 'unknown_action', requestId: null, message: 'A message is a JSON object with an "action" (subscribe, unsubscribe, ping, …).' };
  }
  const requestId = echoableRequestId(value.request_id);
  if (!isAction(value.action)) {
    const shown = typeof value.action === 'string' ? value.action.slice(0, 50) : describe(value.action);
    return { ok: false, code: 'unknown_action', requestId, message: unknownActionMessage(shown) };
  }
  return { ok: true, value: { action: value.action, requestId, body: value } };
}

/** The PHP daemon's words for an action it does not know. */
export function unknownActionMessage(action: string): string {
  return `Action '${action}' is not recognized.`;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

class FieldError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function bad(field: string, expected: string, value: unknown): FieldError {
  return new FieldError('invalid_request', `${field} must be ${expected} (got ${describe(value)}).`);
}

function findUnsafeKey(value: unknown, path: string, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findUnsafeKey(value[i], `${path}[${i}]`, depth + 1);
      if (hit) return hit;
    }
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) {
      if (UNSAFE_KEYS.has(key)) return path ? `${path}.${key}` : key;
      const hit = findUnsafeKey(value[key], path ? `${path}.${key}` : key, depth + 1);
      if (hit) return hit;
    }
  }
  return undefined;
}

/** A TeamPass id: a positive integer that fits INT UNSIGNED; TeamPass pages often send it as a digit string. */
function id(value: unknown, field: string): number {
  const n = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_ID) throw bad(field, `a positive integer id up to ${MAX_ID}`, value);
  return n;
}

/** An optional id: absent, null, 0 and '' mean "not given", as PHP's (int) cast and > 0 test make them. */
function optionalId(value: unknown, field: string): number | null {
  if (value === undefined || value === null || value === 0 || value === '' || value === '0') return null;
  return id(value, field);
}

function eventId(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_ID) throw bad(field, `an event id (an integer from 0 to ${MAX_ID})`, value);
  return n;
}

function dataOf(body: Record<string, unknown>): Record<string, unknown> {
  const data = body.data;
  if (data === undefined || data === null) return {};
  if (!isPlainObject(data)) throw bad('data', 'an object', data);
  return data;
}

/**
 * The channel of a subscribe or unsubscribe. The PHP daemon answers an unsubscribe without a
 * string channel with invalid_channel (its switch falls through), a subscribe with invalid_request.
 */
function channelOf(body: Record<string, unknown>, missingCode: 'invalid_request' | 'invalid_channel'): 'folder' | 'kb' {
  const channel = body.channel;
  if (channel === undefined || channel === null) throw new FieldError(missingCode, 'channel is required ("folder" or "kb").');
  if (typeof channel !== 'string') {
    const refusal = bad('channel', 'a string ("folder" or "kb")', channel);
    throw missingCode === 'invalid_request' ? refusal : new FieldError(missingCode, refusal.message);
  }
  if (channel !== 'folder' && channel !== 'kb') throw new FieldError('invalid_channel', `Channel '${channel.slice(0, 50)}' is not supported (use "folder" or "kb").`);
  return channel;
}

/**
 * The folder of a subscribe. PHP casts it with (int), so anything that is not a folder id
 * (missing, non-numeric, zero) becomes folder 0, which nobody may access: forbidden.
 */
function subscribedFolderId(value: unknown): number {
  try {
    if (value === undefined || value === null) throw bad('data.folder_id', 'a folder id', value);
    return id(value, 'data.folder_id');
  } catch (err) {
    if (!(err instanceof FieldError)) throw err;
    throw new FieldError('forbidden', `Access denied to this folder: data.folder_id must be a folder id (got ${describe(value)}).`);
  }
}

function build(c: Classified): ClientMessage {
  const { action, requestId: request_id, body } = c;
  switch (action) {
    case 'authenticate': {
      const token = body.token;
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
        throw bad('token', `a non-empty string of at most ${MAX_TOKEN_LENGTH} characters`, token === undefined ? undefined : typeof token === 'string' ? '(a string)' : token);
      }
      return { action, request_id, token };
    }
    case 'subscribe': {
      const channel = channelOf(body, 'invalid_request');
      const data = dataOf(body);
      const since = eventId(data.since_event_id, 'data.since_event_id');
      const extra = since === undefined ? {} : { since_event_id: since };
      if (channel === 'kb') return { action, request_id, channel, ...extra };
      return { action, request_id, channel, folder_id: subscribedFolderId(data.folder_id), ...extra };
    }
    case 'unsubscribe': {
      const channel = channelOf(body, 'invalid_channel');
      const data = dataOf(body);
      if (channel === 'kb') return { action, request_id, channel };
      if (data.folder_id === undefined || data.folder_id === null) throw new FieldError('invalid_request', 'data.folder_id is required.');
      return { action, request_id, channel, folder_id: id(data.folder_id, 'data.folder_id') };
    }
    case 'ping':
    case 'pong':
    case 'get_status':
    case 'get_stats':
      return { action, request_id };
    case 'start_item_view':
    case 'renew_item_lock': {
      const data = dataOf(body);
      if (data.item_id === undefined || data.item_id === null) throw new FieldError('invalid_request', 'data.item_id is required.');
      return { action, request_id, item_id: id(data.item_id, 'data.item_id') };
    }
    case 'stop_item_view': {
      const data = dataOf(body);
      return { action, request_id, item_id: optionalId(data.item_id, 'data.item_id'), folder_id: optionalId(data.folder_id, 'data.folder_id') };
    }
    case 'start_kb_view':
    case 'renew_kb_lock': {
      // A missing kb_id is refused after the KB access check, as PHP does (an admin gets forbidden).
      const data = dataOf(body);
      return { action, request_id, kb_id: data.kb_id === undefined || data.kb_id === null ? null : id(data.kb_id, 'data.kb_id') };
    }
    case 'stop_kb_view': {
      const data = dataOf(body);
      return { action, request_id, kb_id: optionalId(data.kb_id, 'data.kb_id') };
    }
  }
}

/** Step 3: the fields of a known action, typed. */
export function validate(c: Classified): { ok: true; message: ClientMessage } | Refusal {
  const unsafe = findUnsafeKey(c.body, '', 0);
  if (unsafe) return { ok: false, code: 'invalid_request', message: `${unsafe} is not an allowed key.` };
  const rawRequestId = c.body.request_id;
  if (rawRequestId !== undefined && rawRequestId !== null && c.requestId === null) {
    return { ok: false, code: 'invalid_request', message: `request_id must be a string of at most ${MAX_REQUEST_ID_LENGTH} characters or a number.` };
  }
  try {
    return { ok: true, message: build(c) };
  } catch (err) {
    if (err instanceof FieldError) return { ok: false, code: err.code, message: err.message };
    throw err;
  }
}

/** All three steps, for callers that do not rate limit between them. */
export function parseClientMessage(raw: Buffer | string, maxMessageSize: number): { ok: true; message: ClientMessage } | (Refusal & { requestId?: RequestId }) {
  const read = readFrame(raw, maxMessageSize);
  if (!read.ok) return read;
  const classified = classify(read.value);
  if (!classified.ok) return classified;
  const validated = validate(classified.value);
  return validated.ok ? validated : { ...validated, requestId: classified.value.requestId };
}
