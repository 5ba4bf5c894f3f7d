import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { isTeampassWsError } from '../src/errors.js';
import type { PortGate } from '../src/server/port-gate.js';
import type { CommandContext } from './context.js';
import { migrateCommand } from './migrate.js';
import { serveCommand } from './serve.js';
import { emitCommand } from './emit.js';
import { tailLogsCommand } from './tail-logs.js';
import { installSystemdCommand } from './install-systemd.js';
import { checkCommand } from './check.js';
import { terminalOutput, type Output } from './output.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(ctx: CommandContext): Command {
  const program = new Command('teampass-ws')
    .description('Real-time notifications for TeamPass: a drop-in replacement for its PHP websocket daemon, and the commands around it.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run "teampass-ws --help" for usage)')
    .exitOverride();
  const commands = [
    serveCommand(ctx),
    migrateCommand(ctx),
    emitCommand(ctx),
    tailLogsCommand(ctx),
    installSystemdCommand(ctx),
    checkCommand(ctx),
  ];
  for (const cmd of commands) {
    program.addCommand(cmd.exitOverride().showHelpAfterError(`(run "teampass-ws ${cmd.name()} --help" for usage)`));
  }
  return program;
}

/** The one place an error becomes output and an exit code. */
export function handleError(err: unknown, out: Output): number {
  if (err instanceof CommanderError) {
    // Commander has printed its message (or the help / version) already.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    return err.exitCode === 0 ? 0 : 2;
  }
  if (isTeampassWsError(err)) {
    out.error(err.message);
    if (err.suggestion) out.line(`  → ${err.suggestion}`);
    return err.exitCode;
  }
  out.error(`Unexpected error: ${(err as Error)?.stack ?? String(err)}`);
  return 1;
}

export async function main(argv: string[] = process.argv, out: Output = terminalOutput(), prebound?: PortGate): Promise<number> {
  const ctx: CommandContext = { out, exitCode: 0, prebound };
  try {
    await buildProgram(ctx).parseAsync(argv);
    return ctx.exitCode;
  } catch (err) {
    return handleError(err, out);
  }
}
