import type { IncomingMessage } from 'node:http';

/**
 * Cross-site websocket hijacking guard: a browser always sends Origin, so a page on another site
 * cannot open a socket with the victim's token. Non-browser clients send no Origin and pass.
 */
export class OriginPolicy {
  constructor(
    private readonly allowed: readonly string[],
    /** TeamPass's cpassman_url, read from the settings snapshot (no database access here). */
    private readonly teampassUrl: () => string,
  ) {}

  allows(req: IncomingMessage, viaTrustedProxy: boolean): boolean {
    const header = req.headers.origin;
    if (header === undefined) return true;
    const origin = parseOrigin(header);
    if (!origin) return false;
    if (this.allowed.length > 0) return this.allowed.some((entry) => entry === '*' || matches(entry, origin));
    const teampass = parseOrigin(this.teampassUrl());
    if (teampass) return origin.host === teampass.host;
    const forwarded = viaTrustedProxy ? firstValue(req.headers['x-forwarded-host']) : undefined;
    const host = (forwarded ?? req.headers.host ?? '').toLowerCase();
    return host !== '' && origin.host === host;
  }
}

interface Origin {
  /** scheme://host[:port], lower case, default ports dropped. */
  full: string;
  /** host[:port] */
  host: string;
}

function parseOrigin(value: string): Origin | undefined {
  if (!value || value === 'null') return undefined;
  try {
    const url = new URL(value);
    return { full: `${url.protocol}//${url.host}`.toLowerCase(), host: url.host.toLowerCase() };
  } catch {
    return undefined;
  }
}

/** An entry is a full origin (https://tp.example.com) or a bare host (tp.example.com[:port]). */
function matches(entry: string, origin: Origin): boolean {
  const e = entry.trim().toLowerCase().replace(/\/+$/, '');
  return e.includes('://') ? parseOrigin(e)?.full === origin.full : e === origin.host;
}

function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value?.split(',')[0]?.trim() || undefined;
}
