import { mkdirSync } from 'node:fs';
import path from 'node:path';
import winston from 'winston';
import { redact, redactString } from './redact.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface Logger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  /** Waits until buffered lines reach the file. */
  close(): Promise<void>;
}

export interface LoggerOptions {
  level: LogLevel;
  /** JSON lines file; empty for none. */
  file?: string;
  /** Standard output: 'pretty' on a terminal, 'json' for services, 'none' to stay quiet. */
  console?: 'pretty' | 'json' | 'none';
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
  if (options.file) {
    mkdirSync(path.dirname(path.resolve(options.file)), { recursive: true });
    transports.push(new winston.transports.File({ filename: options.file, format: json }));
  }
  const consoleMode = options.console ?? (process.stdout.isTTY ? 'pretty' : 'json');
  if (consoleMode === 'pretty') {
    transports.push(
      new winston.transports.Console({
        format: winston.format.combine(
          redactFormat(),
          winston.format.timestamp({ format: 'HH:mm:ss' }),
          winston.format.colorize(),
          winston.format.printf(({ timestamp, level, message, ...meta }) => {
            const rest = Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : '';
            return `${timestamp} ${level} ${message}${rest}`;
          }),
        ),
      }),
    );
  } else if (consoleMode === 'json') {
    transports.push(new winston.transports.Console({ format: json }));
  }
  const logger = winston.createLogger({
    level: options.level,
    defaultMeta: options.defaultMeta,
    transports,
    silent: transports.length === 0,
  });
  let closing: Promise<void> | undefined;
  return {
    error: (m, meta) => logger.error(m, meta),
    warn: (m, meta) => logger.warn(m, meta),
    info: (m, meta) => logger.info(m, meta),
    debug: (m, meta) => logger.debug(m, meta),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        if (transports.length === 0) return resolve();
        logger.on('finish', () => setTimeout(resolve, 20));
        logger.end();
      })),
  };
}

/** A logger that drops everything, for tests and commands that print for a person instead. */
export function silentLogger(): Logger {
  return createLogger({ level: 'error', console: 'none' });
}
