/**
 * The event types TeamPass's producers write (TEAMPASS.md, "Producers"), including the design
 * study's. Anything else in websocket_events is still delivered; metrics count it as `other`, so
 * a producer inventing types cannot grow /metrics without bound.
 */
export const TEAMPASS_EVENT_TYPES = [
  'item_created',
  'item_updated',
  'item_deleted',
  'item_copied',
  'item_moved',
  'item_edition_started',
  'item_edition_stopped',
  'folder_created',
  'folder_updated',
  'folder_deleted',
  'folder_permission_changed',
  'kb_created',
  'kb_updated',
  'kb_deleted',
  'kb_edition_started',
  'kb_edition_stopped',
  'task_progress',
  'task_completed',
  'user_keys_ready',
  'session_expired',
  'security_nudge',
  'fields_updated',
  'system_maintenance',
  'ldap_sync_progress',
  'ldap_sync_completed',
  'import_progress',
  'import_completed',
  'export_ready',
] as const;

export type TeampassEventType = (typeof TEAMPASS_EVENT_TYPES)[number];

const KNOWN: ReadonlySet<string> = new Set(TEAMPASS_EVENT_TYPES);

/** The event_type label for metrics: TeamPass's own types as they are, anything else `other`. */
export function eventTypeLabel(eventType: string): string {
  return KNOWN.has(eventType) ? eventType : 'other';
}
