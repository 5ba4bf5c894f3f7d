import type { PortGate } from '../src/server/port-gate.js';
import type { Output } from './output.js';

/** What commands/index.ts hands each command: where to print, and the one place exit codes go. */
export interface CommandContext {
  readonly out: Output;
  /** The process's exit code once the command returns: 0 ok, 1 failed check or bad input, 2 usage. */
  exitCode: number;
  /** serve's port, when it was bound before the program was loaded (commands/early-bind.ts). */
  readonly prebound?: PortGate;
}
