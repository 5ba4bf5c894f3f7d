import type { IncomingMessage } from 'node:http';

/** What the upgrade request carried: a credential (URL or header) and a recovery point. */
export interface UpgradeRequest {
  credential: string | null;
  since: number | undefined;
  /** `since` was given but is not an event id. */
  badSince: string | null;
}

export function readUpgradeRequest(req: IncomingMessage): UpgradeRequest {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const token = url.searchParams.get('token');
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  const sinceText = url.searchParams.get('since');
  let since: number | undefined;
  let badSince: string | null = null;
  if (sinceText !== null) {
    if (/^\d{1,10}$/.test(sinceText)) since = Number(sinceText);
    else badSince = sinceText.slice(0, 40);
  }
  return { credential: token || bearer || null, since, badSince };
}
