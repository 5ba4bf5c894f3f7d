import type { HealthBody } from '../server/healthz.js';
import { probeUrl } from './check-port.js';

export type HealthVerdict =
  | { healthy: true; url: string; body: Partial<HealthBody> }
  | { healthy: false; url: string; reason: string };

/**
 * The /healthz URL to probe: `--url` as given (a bare origin gets /healthz appended), else the
 * configured host and port, a wildcard address being reached on loopback.
 */
export function healthUrl(host: string, port: number, url?: string): string {
  if (!url) return probeUrl(host, port, '/healthz');
  const parsed = new URL(url);
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = '/healthz';
  return parsed.toString();
}

function causeOf(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string; message?: string }; message?: string };
  if (e.name === 'TimeoutError') return 'no answer';
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** Healthy exactly when /healthz answers 200; otherwise one line saying why not. */
export async function probeHealth(url: string, timeoutMs: number): Promise<HealthVerdict> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    text = await res.text();
  } catch (err) {
    const cause = causeOf(err);
    const hint = cause === 'ECONNREFUSED' ? 'connection refused: is the daemon running?' : cause === 'no answer' ? `no answer within ${timeoutMs / 1000} s` : cause;
    return { healthy: false, url, reason: hint };
  }
  let body: Partial<HealthBody> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') body = parsed as Partial<HealthBody>;
  } catch {
    body = undefined;
  }
  if (res.status === 200) return { healthy: true, url, body: body ?? {} };
  const problems = body?.problems?.length ? `: ${body.problems.join('; ')}` : '';
  return { healthy: false, url, reason: `HTTP ${res.status}${body?.status ? ` (${body.status})` : ''}${problems}` };
}
