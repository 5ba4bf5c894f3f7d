import type { AuthMethod } from '../protocol/index.js';

/** Who a connection belongs to, and what its credential allows and until when. */
export interface Identity {
  readonly userId: number;
  readonly login: string;
  readonly displayName: string;
  readonly isAdmin: boolean;
  readonly method: AuthMethod;
  /** users.key_tempo at connect: the TeamPass browser session a websocket token belongs to; null for JWTs. */
  readonly keyTempo: string | null;
  /** When the credential stops being valid (a JWT's exp plus leeway), ms since the epoch; null for none. */
  readonly expiresAtMs: number | null;
  /** A TeamPass 3.2 API token's id, re-checked against its api_sessions row (revoked_at, expires_at); null otherwise. */
  readonly jti: string | null;
  /** A JWT's allowed_folders, narrowing TeamPass's own rule; null when the token does not narrow. */
  readonly allowedFolders: ReadonlySet<number> | null;
}

/** TeamPass's display name: "name lastname" with spaces collapsed, else the login. */
export function displayName(name: string | null | undefined, lastname: string | null | undefined, login: string): string {
  const joined = `${(name ?? '').trim()} ${(lastname ?? '').trim()}`.replace(/\s+/g, ' ').trim();
  return joined || login;
}
