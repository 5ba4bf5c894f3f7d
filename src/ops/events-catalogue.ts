import type { TargetType } from '../db/rows.js';
import type { TeampassEventType } from '../protocol/index.js';

/**
 * The events TeamPass's PHP producers write (TEAMPASS.md, "Producers"): where each one goes and
 * what its payload holds, so `emit` can check a payload and find its target the way TeamPass
 * would. Any other event type is still deliverable; it just has nothing to check against.
 */
export interface EventSpec {
  readonly target: TargetType;
  /**
   * Payload fields that must be present. Several alternatives are given where TeamPass writes
   * two shapes (e.g. folder_permission_changed); the payload must satisfy one of them.
   */
  readonly required: ReadonlyArray<readonly string[]>;
  /** Payload fields naming the target id, in order of preference; item_moved lists both folders (one row each). */
  readonly targetFields?: readonly string[];
  /** Write one row per distinct id among targetFields instead of the first one found. */
  readonly rowPerTarget?: boolean;
  /** Allowed values of some fields. */
  readonly values?: Readonly<Record<string, readonly string[]>>;
  /**
   * What a target field holding 0 means. TeamPass writes such a row (target_id 0) and its PHP
   * daemon drops it: no client can subscribe to folder 0.
   */
  readonly zeroTarget?: string;
  /** False for an event no TeamPass producer writes (its page may not handle it). */
  readonly teampassProducer?: boolean;
  readonly description: string;
}

const itemEvent = (actor: string, description: string): EventSpec => ({
  target: 'folder',
  required: [['item_id', 'folder_id', 'label', actor]],
  targetFields: ['folder_id'],
  description,
});
// TeamPass sends every folder event to the parent folder's subscribers.
const folderEvent = (actor: string, description: string): EventSpec => ({
  target: 'folder',
  required: [['folder_id', 'title', 'parent_id', actor]],
  targetFields: ['parent_id'],
  zeroTarget: 'a root-level folder (parent_id 0)',
  description,
});
const kbEvent = (actor: string, description: string): EventSpec => ({
  target: 'kb',
  required: [['kb_id', 'label', actor]],
  description,
});
/** task_progress as the design study describes it; TeamPass 3.2.1.5 has no producer of it. */
const TASK_PROGRESS_FIELDS = ['task_id', 'task_type', 'progress', 'total', 'status', 'percent', 'message'];
/** task_completed as TeamPass's background worker writes it. */
const TASK_COMPLETED_FIELDS = ['task_id', 'task_type', 'status', 'message', 'item_id', 'item_label', 'process_type'];

// Keyed by TeamPass's event types: the compiler keeps this catalogue and that list in step.
export const EVENT_CATALOGUE: Readonly<Record<TeampassEventType, EventSpec>> = {
  item_created: itemEvent('created_by', 'An item was created in a folder'),
  item_updated: itemEvent('updated_by', 'An item was changed'),
  item_deleted: itemEvent('deleted_by', 'An item was deleted'),
  item_copied: {
    target: 'folder',
    required: [['item_id', 'new_item_id', 'folder_id', 'label', 'copied_by']],
    targetFields: ['folder_id'],
    description: 'An item was copied (to the destination folder)',
  },
  item_moved: {
    target: 'folder',
    required: [['item_id', 'from_folder_id', 'to_folder_id', 'label', 'moved_by']],
    targetFields: ['from_folder_id', 'to_folder_id'],
    rowPerTarget: true,
    description: 'An item moved between folders (one row for the source, one for the destination)',
  },
  item_edition_started: {
    target: 'folder',
    required: [['item_id', 'folder_id', 'user_id', 'user_login', 'user_display_name']],
    targetFields: ['folder_id'],
    description: 'A user started editing an item (edition lock)',
  },
  item_edition_stopped: {
    target: 'folder',
    required: [['item_id', 'folder_id', 'user_id', 'user_login', 'user_display_name']],
    targetFields: ['folder_id'],
    description: 'A user stopped editing an item',
  },
  folder_created: folderEvent('created_by', 'A folder was created (sent to its parent)'),
  folder_updated: folderEvent('updated_by', 'A folder was changed (sent to its parent)'),
  folder_deleted: folderEvent('deleted_by', 'A folder was deleted (sent to its parent)'),
  folder_permission_changed: {
    target: 'user',
    required: [['role_id', 'folders', 'access'], ['source']],
    description: "A user's folder access changed: the daemon recomputes it and drops lost subscriptions",
  },
  kb_created: kbEvent('created_by', 'A knowledge-base entry was created'),
  kb_updated: kbEvent('updated_by', 'A knowledge-base entry was changed'),
  kb_deleted: kbEvent('deleted_by', 'A knowledge-base entry was deleted'),
  kb_edition_started: {
    target: 'kb',
    required: [['kb_id', 'user_id', 'user_login', 'user_display_name']],
    description: 'A user started editing a knowledge-base entry',
  },
  kb_edition_stopped: {
    target: 'kb',
    required: [['kb_id', 'user_id', 'user_login', 'user_display_name']],
    description: 'A user stopped editing a knowledge-base entry',
  },
  task_progress: { target: 'user', required: [TASK_PROGRESS_FIELDS], teampassProducer: false, description: 'Progress of a background task (no TeamPass producer)' },
  task_completed: { target: 'user', required: [TASK_COMPLETED_FIELDS], description: "A background task finished (TeamPass's background worker)" },
  user_keys_ready: {
    target: 'user',
    required: [['task_id', 'task_type', 'status'], ['user_id', 'status', 'message']],
    targetFields: ['user_id'],
    description: "A user's encryption keys are ready",
  },
  session_expired: {
    target: 'user',
    required: [['reason']],
    values: { reason: ['session_timeout', 'account_deleted', 'account_disabled'] },
    description: "The user's session ended: the daemon closes their connections (4401)",
  },
  security_nudge: {
    target: 'user',
    required: [['breached', 'weak', 'reused', 'overdue', 'total']],
    description: 'Password health counters for a user',
  },
  fields_updated: {
    target: 'broadcast',
    required: [['action', 'label', 'changed_by'], ['action', 'item_type', 'changed_by']],
    description: 'Custom fields or item types changed',
  },
  system_maintenance: { target: 'broadcast', required: [['message']], description: 'A maintenance notice for everyone' },
  ldap_sync_progress: { target: 'broadcast', required: [[]], description: 'LDAP synchronisation progress' },
  ldap_sync_completed: { target: 'broadcast', required: [[]], description: 'LDAP synchronisation finished' },
  import_progress: { target: 'user', required: [[]], description: 'Import progress' },
  import_completed: { target: 'user', required: [[]], description: 'Import finished' },
  export_ready: { target: 'user', required: [[]], description: 'An export is ready to download' },
};

/** What a payload field holds when TeamPass writes it. */
export type FieldType = 'id' | 'count' | 'number' | 'text' | 'ids';

/** websocket_events.target_id is INT UNSIGNED, and TeamPass's ids fit it. */
export const MAX_ID = 4_294_967_295;

const ID: FieldType = 'id';
const TEXT: FieldType = 'text';
const COUNT: FieldType = 'count';

/**
 * The type of each field the catalogue names, by field name (a name means the same in every
 * event). Ids may be numbers or strings of digits: PHP hands some over as strings. `access` is
 * left out: TeamPass writes it in more than one shape.
 */
export const FIELD_TYPES: Readonly<Record<string, FieldType>> = {
  item_id: ID, new_item_id: ID, folder_id: ID, from_folder_id: ID, to_folder_id: ID, parent_id: ID, kb_id: ID,
  user_id: ID, role_id: ID, task_id: ID,
  created_by: ID, updated_by: ID, deleted_by: ID, copied_by: ID, moved_by: ID, changed_by: ID,
  label: TEXT, title: TEXT, item_label: TEXT, message: TEXT, reason: TEXT, source: TEXT, status: TEXT, action: TEXT,
  item_type: TEXT, task_type: TEXT, process_type: TEXT, user_login: TEXT, user_display_name: TEXT,
  breached: COUNT, weak: COUNT, reused: COUNT, overdue: COUNT, total: COUNT, progress: COUNT,
  percent: 'number',
  folders: 'ids',
};

export const FIELD_TYPE_NAMES: Readonly<Record<FieldType, string>> = {
  id: 'a numeric id',
  count: 'a count (a whole number from 0)',
  number: 'a number',
  text: 'text',
  ids: 'a list of numeric ids',
};

const isId = (value: unknown): boolean =>
  (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= MAX_ID) ||
  (typeof value === 'string' && /^\d{1,10}$/.test(value) && Number(value) <= MAX_ID);

/** Whether a value has the type TeamPass writes for it. */
export function hasFieldType(type: FieldType, value: unknown): boolean {
  switch (type) {
    case 'id':
      return isId(value);
    case 'count':
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'text':
      return typeof value === 'string';
    case 'ids':
      return Array.isArray(value) && value.every(isId);
  }
}

export function eventSpec(eventType: string): EventSpec | undefined {
  return Object.prototype.hasOwnProperty.call(EVENT_CATALOGUE, eventType) ? EVENT_CATALOGUE[eventType as TeampassEventType] : undefined;
}

export const KNOWN_EVENT_TYPES: readonly string[] = Object.keys(EVENT_CATALOGUE);
