import { Command } from 'commander';
import { z } from 'zod';
import { versionInfo, versionLine } from '../src/ops/version.js';
import type { CommandContext } from './context.js';
import { parseOptions } from './options.js';

const versionOptions = z.object({ json: z.boolean().optional() });

export function versionCommand(ctx: CommandContext): Command {
  return new Command('version')
    .description('print the version of teampass-ws and of the Node.js running it')
    .option('--json', 'machine-readable output')
    .action((raw: unknown) => {
      const opts = parseOptions(versionOptions, raw, 'version');
      const info = versionInfo();
      if (opts.json) ctx.out.json(info);
      else ctx.out.line(versionLine(info));
      ctx.exitCode = 0;
    });
}
