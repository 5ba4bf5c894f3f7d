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
  /** Unix seconds as TeamPass writes them (text); null when never logged in. */
  session_end: string | null;
  /** Empty, '0' or null while the account exists. */
  deleted_at: string | null;
}

/** One misc (type 'admin') setting. */
export interface SettingRow<Name extends string = string> {
  name: Name;
  value: string;
  /** TeamPass marks some misc values as encrypted with its defuse key. */
  encrypted: boolean;
}

/** One api_sessions row of TeamPass 3.2's API. */
export interface ApiSessionRow {
  jti: string;
  userId: number;
  /** Unix seconds. */
  expiresAt: number;
  /** Unix seconds; null (or 0) while the session is not revoked. */
  revokedAt: number | null;
}

/** A folder of nested_tree, with its place in the nested set. */
export interface FolderRow {
  id: number;
  title: string;
  nleft: number;
  nright: number;
}

/** Someone holding an edition lock (items_edition / kb_edition) with who they are. */
export interface EditionLockRow {
  /** item_id or kb_id. */
  id: number;
  login: string;
  name: string | null;
  lastname: string | null;
}
