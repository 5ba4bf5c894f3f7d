/**
 * What the daemon sends. Shapes are the PHP daemon's (TEAMPASS.md); the additions of DESIGN.md
 * (last_event_id, settled_event_id, recovered, event_id, reason) are optional fields an old client ignores.
 */
import type { ErrorCode } from './codes.js';
import type { RequestId } from './client-messages.js';

export interface ConnectedFrame {
  type: 'connected';
  user_id: number;
  user_login: string;
  user_display_name: string;
  server_time: number;
  config: { ping_interval: number };
  reconnect_token?: string;
  last_event_id: number;
  /** Every event id at or below it was dispatched or is gone: where a new client starts. */
  settled_event_id: number;
  recovered?: boolean;
  request_id?: RequestId;
}

export interface ErrorFrame {
  type: 'error';
  error_code: ErrorCode;
  message: string;
  /** Absent when the message could not be read (invalid_json, message_too_large, connect errors). */
  request_id?: RequestId;
}

export interface Viewer {
  user_id: number;
  user_login: string;
  user_display_name: string;
}

export interface LockedItem {
  item_id: number;
  user_login: string;
  user_display_name: string;
}

export interface LockedKb {
  kb_id: number;
  user_login: string;
  user_display_name: string;
}

interface ResponseBase {
  type: 'response';
  status: 'success';
  request_id: RequestId;
}

export type ResponseFrame = ResponseBase &
  (
    | {
        action: 'subscribed';
        channel: 'folder';
        folder_id: number;
        locked_items: LockedItem[];
        viewing_items: Array<{ item_id: number; viewers: Viewer[] }>;
        recovered?: boolean;
        settled_event_id?: number;
      }
    | { action: 'subscribed'; channel: 'kb'; locked_kbs: LockedKb[]; viewing_kbs: Array<{ kb_id: number; viewers: Viewer[] }>; recovered?: boolean; settled_event_id?: number }
    | { action: 'unsubscribed'; channel: 'folder'; folder_id: number }
    | { action: 'unsubscribed'; channel: 'kb' }
    | { action: 'item_view_started'; item_id: number; folder_id: number; viewers: Viewer[] }
    | { action: 'item_view_stopped'; item_id: number | null; folder_id: number | null }
    | { action: 'kb_view_started'; kb_id: number; viewers: Viewer[] }
    | { action: 'kb_view_stopped'; kb_id: number | null }
    | { action: 'lock_renewed'; item_id: number }
    | { action: 'kb_lock_renewed'; kb_id: number }
  );

/** Sent unasked when the daemon drops a subscription (DESIGN.md "Folder access"). */
export type RevocationFrame =
  | { type: 'response'; status: 'success'; action: 'unsubscribed'; channel: 'folder'; folder_id: number; reason: 'access_revoked' }
  | { type: 'response'; status: 'success'; action: 'unsubscribed'; channel: 'kb'; reason: 'access_revoked' };

export interface PongFrame {
  type: 'pong';
  timestamp: number;
  request_id: RequestId;
}

export interface PingFrame {
  type: 'ping';
  timestamp: number;
}

export interface StatusFrame {
  type: 'status';
  connected: true;
  user_id: number;
  user_login: string;
  user_display_name: string;
  auth_method: AuthMethod;
  subscriptions: string[];
  connected_at: number;
  server_time: number;
  request_id: RequestId;
}

export interface StatsFrame {
  type: 'stats';
  stats: { total_connections: number; unique_users: number; folder_subscriptions: number; kb_subscriptions: number };
  server_time: number;
  request_id: RequestId;
}

/** An event the daemon makes itself (presence, session end): not from the table, so no event_id. */
export interface LocalEventFrame {
  type: 'event';
  event: string;
  data: Record<string, unknown>;
  timestamp: number;
}

export type AuthMethod = 'ws_token' | 'jwt';

export type ServerFrame = ConnectedFrame | ErrorFrame | ResponseFrame | RevocationFrame | PongFrame | PingFrame | StatusFrame | StatsFrame | LocalEventFrame;

export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

export function errorFrame(code: ErrorCode, message: string, requestId?: RequestId): ErrorFrame {
  return requestId === undefined ? { type: 'error', error_code: code, message } : { type: 'error', error_code: code, message, request_id: requestId };
}

export function localEvent(event: string, data: Record<string, unknown>): LocalEventFrame {
  const now = unixNow();
  return { type: 'event', event, data: { ...data, server_timestamp: now }, timestamp: now };
}
