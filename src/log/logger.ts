import winston from 'winston';
import { LogFile } from './log-file.js';
import { prepareLogFile } from './log-path.js';
import { redact, redactString } from './redact.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface Logger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  /** Reopens the log file (after logrotate moved it); nothing without a file. */
  reopen(): void;
  /** Waits until buffered lines reach the file. */
  close(): Promise<void>;
}

export interface LoggerOptions {
  level: LogLevel;
  /** JSON lines file; empty for none. */
  file?: string;
  /** How often the file is checked for having been moved away (ms); 0: only on reopen(). */
  fileCheckIntervalMs?: number;
  /** Human lines on standard error (a terminal, or the journal when there is no file). */
  pretty?: boolean;
  /** Colours in the human lines. */
  color?: boolean;
  /** JSON lines on standard output too (containers, log collectors). */
  jsonStdout?: boolean;
  /** Added to every line, e.g. { instance: 'host:8080' }. */
  defaultMeta?: Record<string, unknown>;
}

const redactFormat = winston.format((info) => {
  const { level, message, ...meta } = info as Record<string, unknown> & { level: string; message: unknown };
  const clean = redact(meta) as Record<string, unknown>;
  for (const key of Object.keys(info)) if (key !== 'level' && key !== 'message') delete (info as Record<string, unknown>)[key];
  Object.assign(info, clean);
  info.level = level;
  info.message = typeof message === 'string' ? redactString(message) : message;
  return info;
});

export function createLogger(options: LoggerOptions): Logger {
  const transports: winston.transport[] = [];
  const json = winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json());
  let file: LogFile | undefined;
  if (options.file) {
    prepareLogFile(options.file);
    file = new LogFile(options.file, {
      checkIntervalMs: options.fileCheckIntervalMs ?? 5000,
      onReopen: (reason) => logger.info('Log file reopened', { file: options.file, reason }),
    });
    transports.push(new winston.transports.Stream({ stream: file, format: json }));
  }
  if (options.pretty) {
    const levels = ['error', 'warn', 'info', 'debug'];
    transports.push(
      new winston.transports.Console({
        stderrLevels: levels,
        format: winston.format.combine(
          redactFormat(),
          winston.format.timestamp({ format: 'HH:mm:ss' }),
          ...(options.color ? [winston.format.colorize()] : []),
          winston.format.printf(({ timestamp, level, message, ...meta }) => {
            const rest = Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : '';
            return `${timestamp} ${level} ${message}${rest}`;
          }),
        ),
      }),
    );
  }
  if (options.jsonStdout) transports.push(new winston.transports.Console({ format: json }));
  const logger = winston.createLogger({
    level: options.level,
    defaultMeta: options.defaultMeta,
    transports,
    silent: transports.length === 0,
  });
  let closing: Promise<void> | undefined;
  // A line logged once close() began (a late timer, a summary at the end of its minute) is
  // dropped: written to the ended stream it would throw "write after end" and end the process.
  // A line below the level stops here: winston would serialise it and pass it down its streams
  // before each transport dropped it (a line per connection opened and closed, in a storm).
  const at =
    (level: LogLevel) =>
    (m: string, meta?: Record<string, unknown>): void => {
      if (closing === undefined && logger.isLevelEnabled(level)) logger.log(level, m, meta);
    };
  return {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    reopen: () => file?.reopen('signal'),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        if (transports.length === 0) return resolve();
        logger.on('finish', () =>
          setTimeout(() => {
            if (!file) return resolve();
            file.once('finish', () => resolve());
            file.end();
          }, 20),
        );
        logger.end();
      })),
  };
}

/** A logger that drops everything, for tests and commands that print for a person instead. */
export function silentLogger(): Logger {
  return createLogger({ level: 'error' });
}
