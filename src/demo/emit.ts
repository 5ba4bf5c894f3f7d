import { EditionLocksRepository, type Database } from '../db/index.js';
import { planEvent, type EmitPlan } from '../ops/emit-plan.js';
import { emitEvent } from '../ops/emit.js';
import type { DemoInfo, DemoUserInfo } from './prepare.js';

/** What the demo page may fire: TeamPass's item events, a broadcast and a user event. */
export const DEMO_EVENT_TYPES = ['item_created', 'item_updated', 'item_deleted', 'system_maintenance', 'task_completed'] as const;
export type DemoEventType = (typeof DEMO_EVENT_TYPES)[number];

export interface DemoEmitRequest {
  token: string;
  event_type: string;
  folder_id?: number;
  label?: string;
  /** Set exclude_user_id to the actor, as TeamPass's producers do: the actor's own tabs get nothing. */
  exclude_self?: boolean;
}

export interface DemoEmitResult {
  ids: number[];
  event_type: string;
  target: string;
  payload: Record<string, unknown>;
}

const MAX_LABEL = 200;

/** A request the demo page (or a script) got wrong, with the HTTP status that says so. */
export class DemoRequestError extends Error {
  constructor(
    readonly status: 400 | 403 | 409,
    message: string,
    readonly suggestion: string,
  ) {
    super(message);
    this.name = 'DemoRequestError';
  }
}

function bad(message: string, suggestion: string, status: 400 | 403 | 409 = 400): DemoRequestError {
  return new DemoRequestError(status, message, suggestion);
}

/** Checks a request from the demo page; everything is refused before anything is written. */
export function parseDemoEmit(body: unknown, demo: DemoInfo): { user: DemoUserInfo; request: DemoEmitRequest } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw bad('The request body must be a JSON object.', 'Send {"token": "...", "event_type": "item_created", "folder_id": 3, "label": "..."}.');
  }
  const b = body as Record<string, unknown>;
  const user = demo.users.find((u) => typeof b.token === 'string' && u.token === b.token);
  if (!user) throw bad('Unknown token: it is not one of the demo users’ tokens.', 'Reload /demo: each start of the demo issues new tokens.', 403);
  if (typeof b.event_type !== 'string' || !(DEMO_EVENT_TYPES as readonly string[]).includes(b.event_type)) {
    throw bad(`event_type must be one of ${DEMO_EVENT_TYPES.join(', ')}.`, 'Pick an event in the demo page, or use `teampass-ws emit` for any other.');
  }
  const label = b.label === undefined || b.label === null ? '' : String(b.label).trim();
  if (label.length > MAX_LABEL) throw bad(`label is longer than ${MAX_LABEL} characters.`, 'Use a shorter label.');
  const request: DemoEmitRequest = { token: user.token, event_type: b.event_type, label, exclude_self: b.exclude_self === true };
  if (b.event_type.startsWith('item_')) {
    const folderId = Number(b.folder_id);
    if (!demo.folders.some((f) => f.id === folderId)) {
      throw bad(`folder_id ${JSON.stringify(b.folder_id)} is not a demo folder.`, `Use one of ${demo.folders.map((f) => f.id).join(', ')}.`);
    }
    request.folder_id = folderId;
  }
  return { user, request };
}

/**
 * Writes the event as TeamPass's producer would: the item change first (items table), then the
 * websocket_events row through the same planner and writer as `teampass-ws emit`.
 */
export async function demoEmit(db: Database, user: DemoUserInfo, request: DemoEmitRequest, options: { wakePort?: number } = {}): Promise<DemoEmitResult> {
  const nowSec = Math.floor(Date.now() / 1000);
  const excludeUser = request.exclude_self ? String(user.id) : undefined;
  let plan: EmitPlan;
  if (request.event_type === 'system_maintenance') {
    plan = planEvent({ eventType: 'system_maintenance', payload: { message: request.label || `Maintenance notice from ${user.login}` }, target: { excludeUser }, nowSec });
  } else if (request.event_type === 'task_completed') {
    // The background worker's shape (TeamPass's task_completed producer).
    const payload = { task_id: nowSec, task_type: 'demo_export', status: 'completed', message: request.label || 'Your export is ready', item_id: 0, item_label: '', process_type: 'export' };
    plan = planEvent({ eventType: 'task_completed', payload, target: { user: String(user.id) }, nowSec });
  } else {
    const folderId = request.folder_id!;
    const item = await changeItem(db, request.event_type as 'item_created' | 'item_updated' | 'item_deleted', folderId, request.label ?? '');
    const actor = { item_created: 'created_by', item_updated: 'updated_by', item_deleted: 'deleted_by' }[request.event_type as 'item_created'];
    plan = planEvent({ eventType: request.event_type, payload: { item_id: item.id, folder_id: folderId, label: item.label, [actor]: user.id }, target: { excludeUser }, nowSec });
  }
  const outcome = await emitEvent(db, plan, { wakePort: options.wakePort ?? 0 });
  const row = plan.rows[0];
  return { ids: outcome.ids, event_type: plan.eventType, target: row.targetId === null ? row.targetType : `${row.targetType} ${row.targetId}`, payload: plan.payload };
}

async function changeItem(db: Database, eventType: 'item_created' | 'item_updated' | 'item_deleted', folderId: number, label: string): Promise<{ id: number; label: string }> {
  const items = new EditionLocksRepository(db);
  if (eventType === 'item_created') {
    const newLabel = label || `New item ${new Date().toISOString().slice(11, 19)}`;
    return { id: await items.createItem(newLabel, folderId), label: newLabel };
  }
  const latest = await items.newestItem(folderId);
  if (!latest) throw bad(`Folder ${folderId} holds no item to ${eventType === 'item_updated' ? 'update' : 'delete'}.`, 'Create one first (item_created).', 409);
  if (eventType === 'item_updated') {
    const newLabel = label || `${latest.label} (edited)`;
    await items.renameItem(latest.id, newLabel);
    return { id: latest.id, label: newLabel };
  }
  await items.deleteItem(latest.id);
  return latest;
}
