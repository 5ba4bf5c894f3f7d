import { TeampassWsError } from '../errors.js';
import { LEVELS, recordUsers, type Level, type LogRecord } from './log-record.js';

export interface LogFilterOptions {
  /** Show this level and the more severe ones. */
  level?: string;
  user?: string;
  since?: string;
  grep?: string;
  /** Reference time for relative --since values. */
  now?: Date;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `10m`, `2h`, `1d`, `90s`, `1w`, or an ISO date/time (local time when it names no zone). */
export function parseSince(text: string, now: Date = new Date()): Date {
  const value = text.trim();
  const rel = /^(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)$/i.exec(value);
  if (rel) {
    const unit = rel[2].toLowerCase().startsWith('mi') || rel[2].toLowerCase() === 'm' ? 'm' : rel[2][0].toLowerCase();
    return new Date(now.getTime() - Number(rel[1]) * UNIT_MS[unit]);
  }
  if (/^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(value)) {
    // A bare date is the start of that local day; new Date('2024-01-02') alone would mean UTC.
    const iso = value.length === 10 ? `${value}T00:00:00` : value.replace(' ', 'T');
    const date = new Date(iso);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new TeampassWsError('INPUT', `--since "${text}" is neither a duration nor a date.`, {
    suggestion: 'Use a duration such as 30s, 10m, 2h, 1d, or a time such as 2025-03-01T14:00 or "2025-03-01 14:00:00".',
  });
}

export function parseLevel(text: string): Level {
  // Only the levels --help lists: an alias ("warning") that works here but nowhere else surprises.
  const level = LEVELS.find((l) => l === text.trim().toLowerCase());
  if (!level) {
    throw new TeampassWsError('INPUT', `--level "${text}" is not a log level.`, { suggestion: `Use one of ${LEVELS.join(', ')}: it shows that level and the more severe ones.` });
  }
  return level;
}

export function parseGrep(text: string): RegExp {
  try {
    return new RegExp(text);
  } catch (err) {
    throw new TeampassWsError('INPUT', `--grep "${text}" is not a valid regular expression: ${(err as Error).message}.`, {
      suggestion: 'Escape special characters (e.g. \\[ or \\.), or quote the pattern for the shell.',
    });
  }
}

/**
 * Decides which lines to show. A line in neither log format (a stack trace, a wrapped message)
 * belongs to the record above it, so it follows that record's verdict; before any record it
 * is shown unless a filter needs a field it cannot have. --grep applies to every line's text.
 */
export class LogFilter {
  private readonly level?: Level;
  private readonly user?: string;
  readonly since?: Date;
  private readonly grep?: RegExp;
  private lastVerdict: boolean | undefined;

  constructor(options: LogFilterOptions) {
    if (options.level !== undefined) this.level = parseLevel(options.level);
    if (options.user !== undefined) this.user = options.user.trim();
    if (options.since !== undefined) this.since = parseSince(options.since, options.now);
    if (options.grep !== undefined) this.grep = parseGrep(options.grep);
  }

  private get needsFields(): boolean {
    return this.level !== undefined || this.user !== undefined || this.since !== undefined;
  }

  /** The verdict on a parsed record's fields, --grep aside. */
  private fieldsMatch(record: LogRecord): boolean {
    if (this.level !== undefined && (record.level === undefined || LEVELS.indexOf(record.level) > LEVELS.indexOf(this.level))) return false;
    if (this.user !== undefined && !recordUsers(record).includes(this.user)) return false;
    if (this.since !== undefined && (record.time === undefined || record.time < this.since)) return false;
    return true;
  }

  /** Forward order: call for each line as it comes. */
  accept(record: LogRecord): boolean {
    let verdict: boolean;
    if (record.format === 'text') verdict = this.lastVerdict ?? !this.needsFields;
    else {
      verdict = this.fieldsMatch(record);
      this.lastVerdict = verdict;
    }
    return verdict && (this.grep === undefined || this.grep.test(record.raw));
  }

  /**
   * For a backward scan: the verdict on a parsed record, and for text lines whether they can be
   * decided alone (undefined: they wait for the record above them).
   */
  acceptAlone(record: LogRecord): boolean | undefined {
    if (record.format === 'text') return undefined;
    return this.fieldsMatch(record);
  }

  grepMatches(record: LogRecord): boolean {
    return this.grep === undefined || this.grep.test(record.raw);
  }

  /** What a text line with no record above it (the top of the file) gets. */
  get orphanVerdict(): boolean {
    return !this.needsFields;
  }
}
