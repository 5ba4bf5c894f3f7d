import { TARGET_TYPES, type EventRow, type TargetType } from '../db/rows.js';

/** A websocket_events row that can be routed, with its frame already serialised. */
export interface RoutableEvent {
  readonly id: number;
  readonly eventType: string;
  readonly targetType: TargetType;
  /** user id or folder id; null for kb and broadcast. */
  readonly targetId: number | null;
  /** payload.exclude_user_id of folder events (the actor), when present. */
  readonly excludeUserId: number | null;
  /** payload.reason, for session_expired. */
  readonly reason: string | null;
  /** The frame TeamPass's client expects plus event_id, serialised once for every recipient. */
  readonly frame: string;
}

/**
 * The frame sent live: the event's frame plus `settled_event_id`, the poller's settled watermark
 * (every id at or below it was sent before this frame, or is gone). Built once per event.
 * Replayed frames go without it: a replay covers one channel at a time.
 */
export function liveFrame(event: RoutableEvent, settledId: number): string {
  return `${event.frame.slice(0, -1)},"settled_event_id":${settledId}}`;
}

export type BadEventReason = 'invalid_payload' | 'unknown_target_type' | 'missing_target_id' | 'missing_event_type' | 'too_large';

export interface BadEvent {
  readonly id: number;
  readonly bad: BadEventReason;
  readonly detail: string;
}

export type ParsedEvent = RoutableEvent | BadEvent;

export function isBadEvent(e: ParsedEvent): e is BadEvent {
  return 'bad' in e;
}

/** The payload as stored (JSON text), which must parse as JSON before it is embedded in a frame. */
function payloadJson(payload: string | null): { text: string; value: unknown } | { error: string } {
  if (payload === null) return { error: 'payload is empty' };
  const text = payload.trim();
  try {
    return { text, value: JSON.parse(text) };
  } catch (err) {
    return { error: `payload is not valid JSON (${(err as Error).message})` };
  }
}

function optionalInt(value: unknown): number | null {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^\d+$/.test(value.trim())) return Number(value.trim());
  return null;
}

/**
 * Checks one row and builds its frame; a row that cannot be delivered comes back as a BadEvent.
 * A frame over `maxFrameBytes` is one too: sent, it would close every recipient as a slow
 * consumer, and a recovering client would ask for it again, forever.
 */
export function parseEventRow(row: EventRow, maxFrameBytes = Infinity): ParsedEvent {
  const id = row.id;
  const eventType = row.event_type;
  if (!eventType) return { id, bad: 'missing_event_type', detail: 'event_type is empty' };
  const targetType = TARGET_TYPES.find((type) => type === row.target_type);
  if (!targetType) return { id, bad: 'unknown_target_type', detail: `target_type "${row.target_type}" is not user, folder, kb or broadcast` };
  const targetId = row.target_id;
  if ((targetType === 'user' || targetType === 'folder') && (targetId === null || !Number.isSafeInteger(targetId))) {
    return { id, bad: 'missing_target_id', detail: `a ${targetType} event needs target_id` };
  }
  const payload = payloadJson(row.payload);
  if ('error' in payload) return { id, bad: 'invalid_payload', detail: payload.error };
  const fields = payload.value !== null && typeof payload.value === 'object' && !Array.isArray(payload.value) ? (payload.value as Record<string, unknown>) : {};
  const timestamp = row.created_unix;
  const frame =
    `{"type":"event","event":${JSON.stringify(eventType)},"data":${payload.text},` +
    `"timestamp":${Number.isFinite(timestamp) ? Math.trunc(timestamp) : 0},"event_id":${id}}`;
  const bytes = Buffer.byteLength(frame);
  if (bytes > maxFrameBytes) return { id, bad: 'too_large', detail: `its frame is ${bytes} bytes, over max_event_bytes (${maxFrameBytes})` };
  return {
    id,
    eventType,
    targetType,
    targetId: targetType === 'user' || targetType === 'folder' ? targetId : null,
    excludeUserId: optionalInt(fields.exclude_user_id),
    reason: typeof fields.reason === 'string' ? fields.reason : null,
    frame,
  };
}
