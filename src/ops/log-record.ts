/**
 * One line of a daemon log, read from either format an admin meets: this project's winston JSON
 * lines ({level, message, timestamp, ...meta}) and the PHP daemon's
 * `[Y-m-d H:i:s] [LEVEL] message {json context}`. A line in neither format is kept as text.
 */
export type Level = 'error' | 'warn' | 'info' | 'debug';
export const LEVELS: readonly Level[] = ['error', 'warn', 'info', 'debug'];

export interface LogRecord {
  raw: string;
  format: 'json' | 'php' | 'text';
  level?: Level;
  /** The level as written, e.g. WARNING. */
  levelLabel?: string;
  time?: Date;
  message?: string;
  meta: Record<string, unknown>;
}

const LEVEL_ALIASES: Record<string, Level> = {
  error: 'error',
  err: 'error',
  crit: 'error',
  critical: 'error',
  alert: 'error',
  emerg: 'error',
  emergency: 'error',
  fatal: 'error',
  warn: 'warn',
  warning: 'warn',
  notice: 'info',
  info: 'info',
  http: 'info',
  verbose: 'debug',
  debug: 'debug',
  silly: 'debug',
  trace: 'debug',
};

export function normaliseLevel(label: string): Level | undefined {
  return LEVEL_ALIASES[label.trim().toLowerCase()];
}

function parseJsonLine(raw: string): LogRecord | undefined {
  if (!raw.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const { level, message, timestamp, ...meta } = value as Record<string, unknown>;
  if (typeof level !== 'string' || message === undefined) return undefined;
  const time = typeof timestamp === 'string' || typeof timestamp === 'number' ? new Date(timestamp) : undefined;
  return {
    raw,
    format: 'json',
    level: normaliseLevel(level),
    levelLabel: level,
    time: time && !Number.isNaN(time.getTime()) ? time : undefined,
    message: typeof message === 'string' ? message : JSON.stringify(message),
    meta,
  };
}

const PHP_LINE = /^\[(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\] \[([A-Za-z]+)\] ?(.*)$/;

/** PHP's Logger appends json_encode($context) after a space; the message itself may hold braces. */
function splitPhpContext(rest: string): { message: string; meta: Record<string, unknown> } {
  const last = rest[rest.length - 1];
  if (last === '}' || last === ']') {
    for (let i = rest.indexOf(' '); i !== -1; i = rest.indexOf(' ', i + 1)) {
      const c = rest[i + 1];
      if (c !== '{' && c !== '[') continue;
      try {
        const context = JSON.parse(rest.slice(i + 1)) as unknown;
        const meta = context && typeof context === 'object' && !Array.isArray(context) ? (context as Record<string, unknown>) : { context };
        return { message: rest.slice(0, i), meta };
      } catch {
        // not the start of the context; try the next brace
      }
    }
  }
  return { message: rest, meta: {} };
}

function parsePhpLine(raw: string): LogRecord | undefined {
  const m = PHP_LINE.exec(raw);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, label, rest] = m;
  // PHP's date() writes the server's local time without a zone.
  const time = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const { message, meta } = splitPhpContext(rest);
  return { raw, format: 'php', level: normaliseLevel(label), levelLabel: label, time, message, meta };
}

export function parseLogLine(raw: string): LogRecord {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  return parseJsonLine(line) ?? parsePhpLine(line) ?? { raw: line, format: 'text', meta: {} };
}

const USER_KEYS = ['user_id', 'userId', 'user', 'uid', 'user_login', 'login'];

/** The user a line is about, as its metadata names it (id or login). */
export function recordUsers(record: LogRecord): string[] {
  const out: string[] = [];
  for (const key of USER_KEYS) {
    const v = record.meta[key];
    if (typeof v === 'string' || typeof v === 'number') out.push(String(v));
  }
  return out;
}
