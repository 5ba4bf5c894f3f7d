import type { Database } from '../db/index.js';
import type { Identity } from './identity.js';
import { displayName } from './identity.js';
import { verifyJwt, JWT_SHAPE, type JwtFailure } from './jwt.js';
import type { JwtKeyring } from './jwt-secrets.js';
import { apiSessionKey, apiSessionRefused, apiSessionVerdicts } from './api-sessions.js';
import { loadUser, sessionEnd, type SessionEnd } from './users.js';
import { WsTokens, WS_TOKEN_PATTERN, type TokenMode } from './ws-token.js';

export type AuthFailureReason = 'malformed_credential' | 'token_unknown' | 'jwt_revoked' | JwtFailure | SessionEnd;

export type AuthOutcome =
  | { ok: true; identity: Identity }
  /** `reason` is for logs and metrics; `message` is what the client is told. */
  | { ok: false; reason: AuthFailureReason; message: string };

const TOKEN_MESSAGE = 'Authentication failed: the token is unknown, expired or already used. Reload the TeamPass page for a new one.';
const SESSION_MESSAGE = 'Authentication failed: the TeamPass session has ended. Log in to TeamPass again.';

export interface AuthenticatorDeps {
  db: Database;
  tokenMode: TokenMode;
  keyring: JwtKeyring;
}

/** Turns a credential (websocket token or JWT) into an Identity, or says why not. */
export class Authenticator {
  private readonly wsTokens: WsTokens;

  constructor(private readonly deps: AuthenticatorDeps) {
    this.wsTokens = new WsTokens(deps.db, deps.tokenMode);
  }

  async authenticate(credential: string): Promise<AuthOutcome> {
    if (WS_TOKEN_PATTERN.test(credential)) return this.fromWsToken(credential);
    if (JWT_SHAPE.test(credential)) return this.fromJwt(credential);
    return {
      ok: false,
      reason: 'malformed_credential',
      message: 'Authentication failed: expected a TeamPass websocket token (64 hex characters) or an API JWT.',
    };
  }

  /** A fresh websocket token for the client's next reconnect (TeamPass's `reconnect_token`). */
  createReconnectToken(userId: number): Promise<string> {
    return this.wsTokens.createReconnectToken(userId);
  }

  private async fromWsToken(token: string): Promise<AuthOutcome> {
    const holder = await this.wsTokens.consume(token);
    if (holder === null) return { ok: false, reason: 'token_unknown', message: TOKEN_MESSAGE };
    const { userId, user } = holder;
    const ended = sessionEnd(user, { method: 'ws_token', keyTempo: null }, Math.floor(Date.now() / 1000));
    if (ended || !user) return { ok: false, reason: ended ?? 'account_deleted', message: SESSION_MESSAGE };
    return {
      ok: true,
      identity: {
        userId,
        login: user.login,
        displayName: displayName(user.name, user.lastname, user.login),
        isAdmin: user.admin === 1,
        method: 'ws_token',
        keyTempo: user.key_tempo ?? '',
        expiresAtMs: null,
        jti: null,
        allowedFolders: null,
      },
    };
  }

  private async fromJwt(token: string): Promise<AuthOutcome> {
    const { db, keyring } = this.deps;
    let result = verifyJwt(token, await keyring.current());
    if (!result.ok && (result.reason === 'jwt_bad_signature' || result.reason === 'jwt_no_secret') && (await keyring.reload())) {
      result = verifyJwt(token, await keyring.current());
    }
    if (!result.ok) return { ok: false, reason: result.reason, message: `Authentication failed: ${result.detail}.` };
    const { claims, secret } = result;
    if (secret.checkJti && claims.jti !== null) {
      const session = { jti: claims.jti, userId: claims.userId };
      if (apiSessionRefused((await apiSessionVerdicts(db, [session])).get(apiSessionKey(session)))) {
        return { ok: false, reason: 'jwt_revoked', message: 'Authentication failed: this API session was revoked or expired. Log in to the API again.' };
      }
    }
    const user = await loadUser(db, claims.userId);
    const ended = sessionEnd(user, { method: 'jwt', keyTempo: null }, Math.floor(Date.now() / 1000));
    if (ended || !user) return { ok: false, reason: ended ?? 'account_deleted', message: 'Authentication failed: the account is disabled or deleted.' };
    return {
      ok: true,
      identity: {
        userId: claims.userId,
        login: user.login,
        displayName: displayName(user.name, user.lastname, user.login),
        isAdmin: user.admin === 1,
        method: 'jwt',
        keyTempo: null,
        expiresAtMs: (claims.exp + secret.leewaySec) * 1000,
        jti: secret.checkJti ? claims.jti : null,
        allowedFolders: claims.allowedFolders,
      },
    };
  }
}
