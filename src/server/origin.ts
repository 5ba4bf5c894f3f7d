import type { IncomingMessage } from 'node:http';

/** Distinct refused origins remembered for the first-refusal warning; past it, refusals log at debug. */
const MAX_REMEMBERED_REFUSALS = 1000;

/**
 * Cross-site websocket hijacking guard: a browser always sends Origin, so a page on another site
 * cannot open a socket with the victim's token. Non-browser clients send no Origin and pass.
 *
 * Origins compare as the browser does: scheme, host and port. With allowed_origins empty, a
 * page may connect when it is TeamPass's own (cpassman_url's origin) or the request's own origin:
 * the Host header (or X-Forwarded-Host from a trusted proxy) with the request's scheme (plain
 * http, or X-Forwarded-Proto from a trusted proxy). So TeamPass reached under a second name or an
 * IP keeps real-time, and an http page of an https site does not pass.
 */
export class OriginPolicy {
  private readonly refused = new Set<string>();

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
    if (!WEB_SCHEMES.has(origin.scheme)) return false;
    if (origin.full === parseOrigin(this.teampassUrl())?.full) return true;
    return origin.full === requestOrigin(req, viaTrustedProxy);
  }

  /** True the first time an origin is refused (the one refusal worth a warning). */
  firstRefusal(origin: string): boolean {
    if (this.refused.has(origin) || this.refused.size >= MAX_REMEMBERED_REFUSALS) return false;
    this.refused.add(origin);
    return true;
  }
}

const WEB_SCHEMES = new Set(['http', 'https']);

interface Origin {
  scheme: string;
  /** scheme://host[:port], lower case, default ports dropped. */
  full: string;
  /** host[:port] */
  host: string;
}

function parseOrigin(value: string): Origin | undefined {
  if (!value || value === 'null') return undefined;
  try {
    const url = new URL(value);
    const scheme = url.protocol.replace(/:$/, '').toLowerCase();
    return { scheme, full: `${scheme}://${url.host}`.toLowerCase(), host: url.host.toLowerCase() };
  } catch {
    return undefined;
  }
}

/** The origin this request was made to, as the browser saw it; undefined when it cannot be told. */
function requestOrigin(req: IncomingMessage, viaTrustedProxy: boolean): string | undefined {
  const host = (viaTrustedProxy ? firstValue(req.headers['x-forwarded-host']) : undefined) ?? req.headers.host;
  if (!host) return undefined;
  // The daemon itself speaks plain http; TLS ends at a proxy, which says so in X-Forwarded-Proto.
  const proto = (viaTrustedProxy ? firstValue(req.headers['x-forwarded-proto'])?.toLowerCase() : undefined) ?? 'http';
  const scheme = proto === 'wss' ? 'https' : proto === 'ws' ? 'http' : proto;
  if (!WEB_SCHEMES.has(scheme)) return undefined;
  return parseOrigin(`${scheme}://${host}`)?.full;
}

/** An entry is a full origin (https://tp.example.com) or a bare host (tp.example.com[:port], any scheme). */
function matches(entry: string, origin: Origin): boolean {
  const e = entry.trim().toLowerCase().replace(/\/+$/, '');
  return e.includes('://') ? parseOrigin(e)?.full === origin.full : e === origin.host;
}

function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value?.split(',')[0]?.trim() || undefined;
}
