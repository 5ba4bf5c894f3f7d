import chalk from 'chalk';
import { redactString } from '../src/log/redact.js';

/** What a command prints for a person: colours only on a terminal, errors to stderr. */
export interface Output {
  line(text?: string): void;
  ok(text: string): void;
  warn(text: string): void;
  error(text: string): void;
  json(value: unknown): void;
}

export function terminalOutput(stdout: NodeJS.WriteStream = process.stdout, stderr: NodeJS.WriteStream = process.stderr): Output {
  return {
    line: (text = '') => stdout.write(`${text}\n`),
    ok: (text) => stdout.write(`${chalk.green('✔')} ${text}\n`),
    warn: (text) => stderr.write(`${chalk.yellow('!')} ${text}\n`),
    error: (text) => stderr.write(`${chalk.red('✖')} ${redactString(text)}\n`),
    json: (value) => stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  };
}
