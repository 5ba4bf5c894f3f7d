import chalk from 'chalk';
import { redactString } from '../src/log/redact.js';

/**
 * What a command prints: results on standard output (what a script reads), and on standard
 * error what is said to the person (errors, their fixes, warnings, a daemon's progress).
 */
export interface Output {
  line(text?: string): void;
  /** A line for the person, on standard error: a fix after an error, a daemon's progress. */
  info(text?: string): void;
  ok(text: string): void;
  warn(text: string): void;
  error(text: string): void;
  json(value: unknown): void;
}

export function terminalOutput(stdout: NodeJS.WriteStream = process.stdout, stderr: NodeJS.WriteStream = process.stderr): Output {
  return {
    line: (text = '') => stdout.write(`${text}\n`),
    info: (text = '') => stderr.write(`${text}\n`),
    ok: (text) => stdout.write(`${chalk.green('✔')} ${text}\n`),
    warn: (text) => stderr.write(`${chalk.yellow('!')} ${text}\n`),
    error: (text) => stderr.write(`${chalk.red('✖')} ${redactString(text)}\n`),
    json: (value) => stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  };
}
