import { readFile } from 'node:fs/promises';
import type { MiscSettings } from '../access/index.js';
import type { Logger } from '../log/index.js';
import { decryptDefuse, loadDefuseKey, trimDefuseTrailingWhitespace, type TeampassSettings } from '../teampass/index.js';

export type JwtSecretKind = 'teampass_3_2' | 'teampass_misc' | 'teampass_3_1' | 'config';

/** One way an API token may be signed, with the claim checks that go with it. */
export interface JwtSecret {
  readonly kind: JwtSecretKind;
  readonly secret: string;
  readonly audience?: string;
  readonly issuers?: string[];
  /** Clock tolerance for exp / nbf / iat (s). */
  readonly leewaySec: number;
  /** TeamPass 3.2 records every API session: the token's jti must be there and not revoked. */
  readonly checkJti: boolean;
}

export const TEAMPASS_API_AUDIENCE = 'teampass-api';
export const TEAMPASS_32_LEEWAY_SEC = 60;

function issuersFor(url: string): string[] | undefined {
  const trimmed = url.trim();
  if (!trimmed) return undefined;
  const bare = trimmed.replace(/\/+$/, '');
  return [...new Set([trimmed, bare, `${bare}/`])];
}

/**
 * The secrets an API token may be signed with: TeamPass 3.2's misc api_jwt_secret (decrypted
 * with the install's key when TeamPass marks it encrypted), the misc jwt_secret row the PHP
 * daemon verified its `sub` tokens with, 3.1's DB_PASSWD string, and jwt_secret from this
 * daemon's configuration. Rebuilt only when a setting changes.
 */
export class JwtKeyring {
  private cacheKey: string | undefined;
  private secrets: JwtSecret[] = [];
  private lastReload = 0;

  constructor(
    private readonly settings: MiscSettings,
    private readonly teampass: TeampassSettings | undefined,
    private readonly configSecret: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Re-reads TeamPass's settings when a token matched no secret, so a secret set or rotated in
   * TeamPass works at once; at most once per `minIntervalMs`, so bad tokens cannot flood the database.
   */
  async reload(minIntervalMs = 5000): Promise<boolean> {
    if (Date.now() - this.lastReload < minIntervalMs) return false;
    this.lastReload = Date.now();
    const before = this.cacheKey;
    await this.settings.refresh();
    await this.current();
    return this.cacheKey !== before;
  }

  async current(): Promise<JwtSecret[]> {
    const api = this.settings.get('api_jwt_secret');
    const daemon = this.settings.get('jwt_secret');
    const cpassmanUrl = this.settings.value('cpassman_url');
    const key = JSON.stringify([api?.value ?? '', api?.encrypted ?? false, daemon?.value ?? '', daemon?.encrypted ?? false, cpassmanUrl]);
    if (key === this.cacheKey) return this.secrets;
    const out: JwtSecret[] = [];
    const apiSecret = api && api.value !== '' ? await this.plainSecret('api_jwt_secret', api.value, api.encrypted) : undefined;
    if (apiSecret) {
      out.push({
        kind: 'teampass_3_2',
        secret: apiSecret,
        audience: TEAMPASS_API_AUDIENCE,
        issuers: issuersFor(cpassmanUrl),
        leewaySec: TEAMPASS_32_LEEWAY_SEC,
        checkJti: true,
      });
    }
    // The PHP daemon's own check: HS256 and the signature only (no aud, iss or jti); exp is still required.
    const daemonSecret = daemon && daemon.value !== '' ? await this.plainSecret('jwt_secret', daemon.value, daemon.encrypted) : undefined;
    if (daemonSecret) out.push({ kind: 'teampass_misc', secret: daemonSecret, leewaySec: 0, checkJti: false });
    if (this.teampass?.version === '3.1' && this.teampass.rawDbPasswd) {
      out.push({ kind: 'teampass_3_1', secret: this.teampass.rawDbPasswd, leewaySec: 0, checkJti: false });
    }
    if (this.configSecret) out.push({ kind: 'config', secret: this.configSecret, leewaySec: 0, checkJti: false });
    this.cacheKey = key;
    this.secrets = out;
    return out;
  }

  private async plainSecret(name: string, value: string, encrypted: boolean): Promise<string | undefined> {
    if (!encrypted) return value;
    const keyFile = this.teampass?.keyFilePath;
    if (!keyFile) {
      this.logger.warn(`TeamPass ${name} is encrypted but no TeamPass key file is known: API tokens signed with it cannot be checked`, {
        suggestion: 'Start the daemon with --teampass-root so it can read the key file',
      });
      return undefined;
    }
    try {
      const key = loadDefuseKey(trimDefuseTrailingWhitespace(await readFile(keyFile, 'utf8')), keyFile);
      return decryptDefuse(value, key);
    } catch (err) {
      this.logger.warn(`Cannot decrypt TeamPass ${name} with the install key file: API tokens signed with it cannot be checked`, { error: (err as Error).message });
      return undefined;
    }
  }
}
