import { probeUrl } from './check-port.js';

/** The websocket URL a test client connects to: `base` (or the daemon's host and port) with ?token=. */
export function tokenUrl(token: string, host: string, port: number, base?: string): string {
  const url = new URL(base ?? probeUrl(host, port, '/').replace(/^http/, 'ws'));
  url.searchParams.set('token', token);
  return url.toString();
}

/** Ready-to-paste client lines; the URL is single-quoted for the shell (it holds ? and &). */
export function clientLines(url: string): string[] {
  const quoted = `'${url.replace(/'/g, `'\\''`)}'`;
  return [`websocat ${quoted}`, `wscat -c ${quoted}`];
}
