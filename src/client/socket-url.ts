/** Where the client connects: the configured URL with the credentials and resume point added. */

interface PageLocation {
  protocol: string;
  host: string;
}

function pageLocation(): PageLocation | null {
  const loc = (globalThis as { location?: PageLocation }).location;
  return loc && typeof loc.host === 'string' && loc.host ? loc : null;
}

/** wss://<page host>/ws on an https page, ws:// otherwise: TeamPass behind its reverse proxy. */
export function defaultSocketUrl(): string {
  const loc = pageLocation();
  if (!loc) return 'ws://127.0.0.1:8080';
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws`;
}

/** Turns '/ws' or 'https://host/ws' into a websocket URL; older browsers accept only ws(s)://. */
export function absoluteSocketUrl(url: string): string {
  if (/^wss?:\/\//i.test(url)) return url;
  if (/^https?:\/\//i.test(url)) return url.replace(/^http/i, 'ws');
  const loc = pageLocation();
  if (loc && url.startsWith('/')) return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}${url}`;
  return url;
}

/** The URL with `token` and `since` set (replacing any already there). */
export function socketUrl(base: string, token: string | null, since: number | null): string {
  const hashAt = base.indexOf('#');
  const withoutHash = hashAt === -1 ? base : base.slice(0, hashAt);
  const queryAt = withoutHash.indexOf('?');
  const path = queryAt === -1 ? withoutHash : withoutHash.slice(0, queryAt);
  const kept = queryAt === -1 ? [] : withoutHash.slice(queryAt + 1).split('&').filter((p) => p && !/^(token|since)=/.test(p));
  if (token) kept.push(`token=${encodeURIComponent(token)}`);
  if (since !== null) kept.push(`since=${since}`);
  return kept.length ? `${path}?${kept.join('&')}` : path;
}
