import chalk from 'chalk';
import { Command, CommanderError } from 'commander';
import { isTeampassWsError } from '../src/errors.js';
import type { PortGate } from '../src/server/port-gate.js';
import type { CommandContext } from './context.js';
import { migrateCommand } from './migrate.js';
import { serveCommand } from './serve.js';
import { emitCommand } from './emit.js';
import { tailLogsCommand } from './tail-logs.js';
import { installSystemdCommand } from './install-systemd.js';
import { checkCommand } from './check.js';
import { versionCommand } from './version.js';
import { configCommand } from './config.js';
import { tokenCommand } from './token.js';
import { healthCommand } from './health.js';
import { completionCommand } from './completion.js';
import { versionLine } from '../src/ops/version.js';
import { outputFlags, quietWhenJson, type OutputFlags } from './output-flags.js';
import { terminalOutput, type Output } from './output.js';

export function buildProgram(ctx: CommandContext, flags: OutputFlags = { json: false }): Command {
  const program = new Command('teampass-ws')
    .description('Real-time notifications for TeamPass: a drop-in replacement for its PHP websocket daemon, and the commands around it.')
    .version(versionLine(), '-V, --version', 'print the version of teampass-ws and of Node.js')
    .option('--no-color', 'no colours (also when NO_COLOR is set)')
    .exitOverride();
  quietWhenJson(program, flags, '(run "teampass-ws --help" for usage)');
  const commands = [
    serveCommand(ctx),
    migrateCommand(ctx),
    emitCommand(ctx),
    tailLogsCommand(ctx),
    installSystemdCommand(ctx),
    checkCommand(ctx),
    configCommand(ctx),
    tokenCommand(ctx),
    healthCommand(ctx),
    versionCommand(ctx),
    completionCommand(ctx),
  ];
  for (const cmd of commands) {
    program.addCommand(quietWhenJson(cmd.exitOverride(), flags, `(run "teampass-ws ${cmd.name()} --help" for usage)`));
  }
  return program;
}

/** The one place an error becomes output and an exit code. */
export function handleError(err: unknown, out: Output, flags: OutputFlags = { json: false }): number {
  const report = (code: string, message: string, suggestion?: string) => {
    if (flags.json) out.json({ error: { code, message, suggestion: suggestion ?? null } });
    else {
      out.error(message);
      if (suggestion) out.info(`  → ${suggestion}`);
    }
  };
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    // Commander has printed its message already, unless the answer is JSON.
    if (flags.json && err.exitCode !== 0) report('USAGE', err.message.replace(/^error: /, ''), 'Run the command with --help for its usage.');
    return err.exitCode === 0 ? 0 : 2;
  }
  if (isTeampassWsError(err)) {
    report(err.code, err.message, err.suggestion);
    return err.exitCode;
  }
  // Not an error a user can cause: the trace is what its report needs.
  report('INTERNAL', `Unexpected error: ${flags.json ? String((err as Error)?.message ?? err) : ((err as Error)?.stack ?? String(err))}`);
  return 1;
}

export async function main(argv: string[] = process.argv, out?: Output, prebound?: PortGate): Promise<number> {
  const flags = outputFlags(argv, process.env);
  if (flags.noColor) chalk.level = 0;
  const output = out ?? terminalOutput();
  const ctx: CommandContext = { out: output, exitCode: 0, prebound };
  try {
    const program = buildProgram(ctx, flags);
    if (argv.length <= 2) {
      // No command at all: the help, on standard error, as a usage error; --help exits 0.
      program.outputHelp({ error: true });
      return 1;
    }
    await program.parseAsync(argv);
    return ctx.exitCode;
  } catch (err) {
    return handleError(err, output, flags);
  }
}
