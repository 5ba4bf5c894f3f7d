/** Keys whose values are secrets wherever they appear in log metadata. */
const SECRET_KEY = /(^|_)(token|password|passwd|secret|authorization|cookie|jwt|reconnect_token|key_tempo)$/i;
const HEX64 = /\b[a-f0-9]{64}\b/gi;
const JWT = /\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const URL_PASSWORD = /([a-z]+:\/\/[^:/@\s]*:)[^@\s]*@/gi;
const QUERY_TOKEN = /([?&](?:token|access_token)=)[^&\s"]+/gi;

export function redactString(s: string): string {
  return s.replace(QUERY_TOKEN, '$1[redacted]').replace(JWT, '[jwt]').replace(HEX64, '[token]').replace(URL_PASSWORD, '$1***@');
}

/** A deep copy with secret-named keys blanked and token-shaped strings masked. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[deep]';
  if (typeof value === 'string') return redactString(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: redactString(value.message) };
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
    return out;
  }
  return value;
}
