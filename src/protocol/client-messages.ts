/**
 * What a client may send, as TeamPass's PHP daemon defines it plus `authenticate` (DESIGN.md).
 * Field names stay as on the wire so a reader can match them with TEAMPASS.md at a glance.
 */

/** TeamPass's client sends 'req_' + random; anything string or number is echoed back. */
export type RequestId = string | number | null;

interface Base {
  readonly request_id: RequestId;
}

export interface AuthenticateMessage extends Base {
  readonly action: 'authenticate';
  readonly token: string;
}

export interface SubscribeFolderMessage extends Base {
  readonly action: 'subscribe';
  readonly channel: 'folder';
  readonly folder_id: number;
  readonly since_event_id?: number;
}

export interface SubscribeKbMessage extends Base {
  readonly action: 'subscribe';
  readonly channel: 'kb';
  readonly since_event_id?: number;
}

export interface UnsubscribeFolderMessage extends Base {
  readonly action: 'unsubscribe';
  readonly channel: 'folder';
  readonly folder_id: number;
}

export interface UnsubscribeKbMessage extends Base {
  readonly action: 'unsubscribe';
  readonly channel: 'kb';
}

export interface SimpleMessage extends Base {
  readonly action: 'ping' | 'pong' | 'get_status' | 'get_stats';
}

export interface StartItemViewMessage extends Base {
  readonly action: 'start_item_view';
  readonly item_id: number;
}

export interface StopItemViewMessage extends Base {
  readonly action: 'stop_item_view';
  readonly item_id: number | null;
  readonly folder_id: number | null;
}

export interface StartKbViewMessage extends Base {
  readonly action: 'start_kb_view';
  /** null when not given: refused after the KB access check. */
  readonly kb_id: number | null;
}

export interface StopKbViewMessage extends Base {
  readonly action: 'stop_kb_view';
  readonly kb_id: number | null;
}

export interface RenewItemLockMessage extends Base {
  readonly action: 'renew_item_lock';
  readonly item_id: number;
}

export interface RenewKbLockMessage extends Base {
  readonly action: 'renew_kb_lock';
  /** null when not given: refused after the KB access check. */
  readonly kb_id: number | null;
}

export type ClientMessage =
  | AuthenticateMessage
  | SubscribeFolderMessage
  | SubscribeKbMessage
  | UnsubscribeFolderMessage
  | UnsubscribeKbMessage
  | SimpleMessage
  | StartItemViewMessage
  | StopItemViewMessage
  | StartKbViewMessage
  | StopKbViewMessage
  | RenewItemLockMessage
  | RenewKbLockMessage;

export type Action = ClientMessage['action'];

export const ACTIONS: readonly Action[] = [
  'authenticate',
  'subscribe',
  'unsubscribe',
  'ping',
  'pong',
  'get_status',
  'get_stats',
  'start_item_view',
  'stop_item_view',
  'start_kb_view',
  'stop_kb_view',
  'renew_item_lock',
  'renew_kb_lock',
];

export function isAction(value: unknown): value is Action {
  return typeof value === 'string' && (ACTIONS as readonly string[]).includes(value);
}
