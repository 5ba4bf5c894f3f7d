/**
 * Rows as the repositories hand them over: numbers as numbers and JSON as text, whichever driver
 * read them (mysql2 returns JSON columns parsed and some integers as strings; SQLite returns text).
 */

export type TargetType = 'user' | 'folder' | 'kb' | 'broadcast';
export const TARGET_TYPES: readonly TargetType[] = ['user', 'folder', 'kb', 'broadcast'];

export interface EventRow {
  id: number;
  event_type: string;
  /** As stored: the poller refuses anything but a TargetType. */
  target_type: string;
  target_id: number | null;
  /** The payload as JSON text (null when empty); whether it parses is the reader's question. */
  payload: string | null;
  processed: number;
  /** created_at as unix seconds, computed in SQL so the server's time zone cannot skew it. */
  created_unix: number;
}

export interface TokenRow {
  id: number;
  user_id: number;
  token: string;
  used: number;
}

export interface UserRow {
  id: number;
  login: string;
  name: string | null;
  lastname: string | null;
  admin: number;
  gestionnaire: number;
  disabled: number;
  personal_folder: number;
  key_tempo: string | null;
  session_end: string | number | null;
  deleted_at: string | number | null;
}

export interface MiscRow {
  increment_id: number;
  type: string;
  intitule: string;
  valeur: string | null;
}

/** One misc (type 'admin') setting. */
export interface SettingRow<Name extends string = string> {
  name: Name;
  value: string;
  /** TeamPass marks some misc values as encrypted with its defuse key. */
  encrypted: boolean;
}
