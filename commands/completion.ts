import { Argument, Command, type Option } from 'commander';
import { COMPLETION_SHELLS, completionScript, type CompletionOption, type CompletionShell, type CompletionTree } from '../src/ops/completion.js';
import { CONFIG_KEYS, CONFIG_KEY_NAMES, kebab } from '../src/config/index.js';
import type { CommandContext } from './context.js';

/** Config flags whose key is an enum: their values complete too (the loader, not commander, checks them). */
const ENUM_FLAGS = new Map<string, readonly string[]>(
  CONFIG_KEY_NAMES.flatMap((key) => {
    const type = CONFIG_KEYS[key].type;
    return type.kind === 'enum' ? [[`--${kebab(key)}`, type.values] as const] : [];
  }),
);

function optionOf(o: Option): CompletionOption {
  const choices = o.argChoices ?? (o.long ? ENUM_FLAGS.get(o.long) : undefined);
  return {
    flags: [o.short, o.long].filter((f): f is string => Boolean(f)),
    description: o.description,
    takesValue: o.required || o.optional,
    ...(choices ? { choices } : {}),
  };
}

const HELP: CompletionOption = { flags: ['-h', '--help'], description: 'display help', takesValue: false };

/** The command tree as commander holds it: every command, alias and option. */
export function completionTree(program: Command): CompletionTree {
  const versionOption = program.options.filter((o) => o.long === '--version').map(optionOf);
  return {
    name: program.name(),
    options: [...versionOption, HELP],
    commands: program.commands.map((c) => ({
      name: c.name(),
      aliases: c.aliases(),
      description: c.description(),
      options: [...c.options.map(optionOf), HELP],
      ...(c.registeredArguments[0]?.argChoices ? { argumentChoices: c.registeredArguments[0].argChoices } : {}),
    })),
  };
}

export function completionCommand(ctx: CommandContext): Command {
  const cmd = new Command('completion')
    .description('print a shell completion script (bash or zsh) for every command and option')
    .addArgument(new Argument('<shell>', 'the shell').choices(COMPLETION_SHELLS));
  cmd.addHelpText(
    'after',
    `
Examples:
  source <(teampass-ws completion bash)                                  # this shell only
  teampass-ws completion bash | sudo tee /etc/bash_completion.d/teampass-ws
  teampass-ws completion zsh > "\${fpath[1]}/_teampass-ws"`,
  );
  return cmd.action((shell: CompletionShell) => {
    const program = cmd.parent ?? cmd;
    ctx.out.line(completionScript(shell, completionTree(program)).trimEnd());
    ctx.exitCode = 0;
  });
}
