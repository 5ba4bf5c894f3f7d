import { Chalk, type ChalkInstance } from 'chalk';
import type { Level, LogRecord } from './log-record.js';

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** Local time, as an admin reads the rest of the machine's logs. */
export function localTime(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

const LEVEL_COLOUR: Record<Level, (c: ChalkInstance) => ChalkInstance> = {
  error: (c) => c.red.bold,
  warn: (c) => c.yellow,
  info: (c) => c.green,
  debug: (c) => c.gray,
};

/** One line for a person: time, level, message, then the metadata as compact JSON. */
export function formatRecord(record: LogRecord, colour: boolean): string {
  if (record.format === 'text') return record.raw;
  const c = new Chalk({ level: colour ? 1 : 0 });
  const time = record.time ? c.dim(localTime(record.time)) : c.dim('-'.repeat(19));
  const label = (record.level ?? record.levelLabel ?? '?').toUpperCase().padEnd(5);
  const level = record.level ? LEVEL_COLOUR[record.level](c)(label) : label;
  const meta = Object.keys(record.meta).length ? ` ${c.dim(JSON.stringify(record.meta))}` : '';
  return `${time} ${level} ${record.message ?? ''}${meta}`;
}

/**
 * One JSON object per line for a script: this project's lines exactly as written, the PHP
 * daemon's lines in the same shape, any other line as {message, malformed: true}.
 */
export function jsonRecord(record: LogRecord): string {
  if (record.format === 'json') return record.raw;
  if (record.format === 'php') {
    return JSON.stringify({
      ...record.meta,
      level: record.level ?? record.levelLabel?.toLowerCase(),
      message: record.message,
      timestamp: record.time?.toISOString(),
      source_format: 'php',
    });
  }
  return JSON.stringify({ message: record.raw, malformed: true });
}
