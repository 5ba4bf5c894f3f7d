import type { Command } from 'commander';

/** How the whole run prints, read from the arguments before commander parses them. */
export interface OutputFlags {
  /** --json: results, and errors too, as JSON on standard output. */
  json: boolean;
  /** --no-color, or NO_COLOR set (https://no-color.org). */
  noColor?: boolean;
}

export function outputFlags(argv: readonly string[], env: NodeJS.ProcessEnv): OutputFlags {
  const end = argv.indexOf('--');
  const args = end === -1 ? argv : argv.slice(0, end);
  return { json: args.includes('--json'), noColor: args.includes('--no-color') || Boolean(env.NO_COLOR) };
}

/**
 * Commander prints its own usage errors; with --json the error is printed once, as JSON, by
 * the one error path instead. Without --json a usage error is followed by where help is.
 */
export function quietWhenJson(cmd: Command, flags: OutputFlags, helpHint?: string): Command {
  if (flags.json) cmd.configureOutput({ outputError: () => undefined });
  else if (helpHint) cmd.showHelpAfterError(helpHint);
  return cmd;
}
