import { Command } from 'commander';
import { versionInfo, versionLine } from '../src/ops/version.js';
import type { CommandContext } from './context.js';

export function versionCommand(ctx: CommandContext): Command {
  return new Command('version')
    .description('print the version of teampass-ws and of the Node.js running it')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      const info = versionInfo();
      if (opts.json) ctx.out.json(info);
      else ctx.out.line(versionLine(info));
      ctx.exitCode = 0;
    });
}
