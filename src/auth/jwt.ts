import jwt from 'jsonwebtoken';
import { TEAMPASS_API_AUDIENCE, type JwtSecret } from './jwt-secrets.js';

export const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface JwtClaims {
  userId: number;
  /** Unix seconds. */
  exp: number;
  jti: string | null;
  allowedFolders: Set<number> | null;
}

export type JwtFailure =
  | 'jwt_malformed'
  | 'jwt_alg_refused'
  | 'jwt_no_secret'
  | 'jwt_bad_signature'
  | 'jwt_expired'
  | 'jwt_bad_audience'
  | 'jwt_bad_issuer'
  | 'jwt_not_yet_valid'
  | 'jwt_bad_claims';

export type JwtResult = { ok: true; claims: JwtClaims; secret: JwtSecret } | { ok: false; reason: JwtFailure; detail: string };

function userIdFrom(payload: Record<string, unknown>): number | null {
  // TeamPass's API puts the user in `id`; other issuers use the standard `sub`.
  const raw = payload.id ?? payload.sub;
  const n = typeof raw === 'string' && /^\d{1,10}$/.test(raw) ? Number(raw) : raw;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : null;
}

function allowedFoldersFrom(value: unknown): Set<number> | null | 'invalid' {
  if (value === undefined || value === null) return null;
  const parts = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[,;]/).map((s) => s.trim()).filter(Boolean) : 'invalid';
  if (parts === 'invalid') return 'invalid';
  const out = new Set<number>();
  for (const part of parts) {
    const n = typeof part === 'string' && /^\d{1,10}$/.test(part) ? Number(part) : part;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return 'invalid';
    if (n > 0) out.add(n);
  }
  return out;
}

function failureOf(err: unknown): { reason: JwtFailure; detail: string } {
  const e = err as { name?: string; message?: string };
  if (e.name === 'TokenExpiredError') return { reason: 'jwt_expired', detail: 'the token has expired' };
  if (e.name === 'NotBeforeError') return { reason: 'jwt_not_yet_valid', detail: 'the token is not valid yet' };
  const message = e.message ?? '';
  if (/audience/.test(message)) return { reason: 'jwt_bad_audience', detail: `the token's audience is not ${TEAMPASS_API_AUDIENCE}` };
  if (/issuer/.test(message)) return { reason: 'jwt_bad_issuer', detail: "the token's issuer is not this TeamPass (cpassman_url)" };
  if (/algorithm/.test(message)) return { reason: 'jwt_alg_refused', detail: 'only HS256 tokens are accepted' };
  return { reason: 'jwt_malformed', detail: 'the token cannot be read' };
}

/**
 * HS256 only: the header is checked before any secret is tried, so `none` and RS256 tokens
 * (whose "key" would be our shared secret) are refused outright. The first secret whose
 * signature matches decides; its claim checks then apply.
 */
export function verifyJwt(token: string, secrets: readonly JwtSecret[]): JwtResult {
  if (!JWT_SHAPE.test(token)) return { ok: false, reason: 'jwt_malformed', detail: 'the token is not a JWT' };
  const decoded = jwt.decode(token, { complete: true });
  if (!decoded || typeof decoded.payload !== 'object') return { ok: false, reason: 'jwt_malformed', detail: 'the token cannot be read' };
  if (decoded.header.alg !== 'HS256') return { ok: false, reason: 'jwt_alg_refused', detail: `algorithm ${String(decoded.header.alg)} is refused: only HS256 is accepted` };
  if (secrets.length === 0) return { ok: false, reason: 'jwt_no_secret', detail: 'no JWT secret is configured (TeamPass api_jwt_secret or jwt_secret, 3.1 settings, or the jwt_secret config key)' };
  for (const secret of secrets) {
    let payload: jwt.JwtPayload;
    try {
      payload = jwt.verify(token, secret.secret, {
        algorithms: ['HS256'],
        clockTolerance: secret.leewaySec,
        ...(secret.audience ? { audience: secret.audience } : {}),
        ...(secret.issuers ? { issuer: secret.issuers as [string, ...string[]] } : {}),
      }) as jwt.JwtPayload;
    } catch (err) {
      if ((err as Error).message === 'invalid signature') continue;
      return { ok: false, ...failureOf(err) };
    }
    const userId = userIdFrom(payload);
    if (userId === null) return { ok: false, reason: 'jwt_bad_claims', detail: 'the token names no user (claim id or sub)' };
    if (typeof payload.exp !== 'number') return { ok: false, reason: 'jwt_bad_claims', detail: 'the token has no exp claim' };
    const allowedFolders = allowedFoldersFrom(payload.allowed_folders);
    if (allowedFolders === 'invalid') return { ok: false, reason: 'jwt_bad_claims', detail: 'allowed_folders must be a list of folder ids' };
    const jti = typeof payload.jti === 'string' && payload.jti !== '' ? payload.jti : null;
    if (secret.checkJti && jti === null) return { ok: false, reason: 'jwt_bad_claims', detail: 'the token has no jti claim' };
    return { ok: true, secret, claims: { userId, exp: payload.exp, jti, allowedFolders } };
  }
  return { ok: false, reason: 'jwt_bad_signature', detail: 'the signature matches no configured secret' };
}
