import chalk from 'chalk';
import { z } from 'zod';
import { Command } from 'commander';
import path from 'node:path';
import { TeampassWsError } from '../src/errors.js';
import { INIT_DEFAULT_FILE, renderConfigFile, writeConfigFile } from '../src/ops/config-init.js';
import { configEntries, configSummary, valueText } from '../src/ops/config-view.js';
import type { CommandContext } from './context.js';
import { addConfigOptions, loadCommandConfig, configFlagsSchema, parseOptions } from './options.js';

const configOptions = configFlagsSchema.extend({
  init: z.union([z.string(), z.boolean()]).optional(),
  force: z.boolean().optional(),
  json: z.boolean().optional(),
});
type ConfigCliOptions = z.infer<typeof configOptions>;

export function configCommand(ctx: CommandContext): Command {
  const cmd = new Command('config')
    .description('print the effective configuration and where each value comes from (default, file, TeamPass settings, env, flag), secrets hidden')
    .option('--init [file]', `write a commented config file (default ./${INIT_DEFAULT_FILE}) holding the effective values`)
    .option('--force', 'with --init: replace an existing file')
    .option('--json', 'machine-readable output');
  addConfigOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Precedence, lowest first: default < config file < TeamPass settings < env TEAMPASS_WS_* < flags.

Examples:
  teampass-ws config --config /etc/teampass-ws/config.json
  TEAMPASS_WS_PORT=8081 teampass-ws config --json
  sudo teampass-ws config --init /etc/teampass-ws/config.json --teampass-root /var/www/html/TeamPass`,
  );
  return cmd.action(async (raw: unknown) => {
    ctx.exitCode = await runConfig(parseOptions(configOptions, raw, 'config'), ctx);
  });
}

export async function runConfig(opts: ConfigCliOptions, ctx: CommandContext): Promise<number> {
  const { out } = ctx;
  if (opts.force && opts.init === undefined) {
    throw new TeampassWsError('USAGE', '--force only applies to --init.', { suggestion: 'teampass-ws config --init FILE --force' });
  }
  const loaded = await loadCommandConfig(opts);
  if (opts.init !== undefined) {
    const file = path.resolve(typeof opts.init === 'string' ? opts.init : INIT_DEFAULT_FILE);
    writeConfigFile(file, renderConfigFile(loaded), Boolean(opts.force));
    if (opts.json) out.json({ written: file });
    else {
      out.ok(`Config file written: ${file}`);
      out.line(`  Check it with: teampass-ws config --config ${file}`);
    }
    return 0;
  }

  const entries = configEntries(loaded);
  const summary = configSummary(loaded);
  if (opts.json) {
    out.json({ ...summary, keys: Object.fromEntries(entries.map((e) => [e.key, { value: e.value, source: e.source }])) });
    return 0;
  }
  out.line(`config file        ${summary.config_file ?? '(none found)'}`);
  if (summary.teampass_settings) out.line(`TeamPass settings  ${summary.teampass_settings} (TeamPass ${summary.teampass_version})`);
  out.line(`database           ${summary.database ?? '(none named)'}`);
  out.line(`token mode         ${summary.token_mode}`);
  out.line();
  const keyWidth = Math.max(...entries.map((e) => e.key.length));
  const valueWidth = Math.min(40, Math.max(...entries.map((e) => valueText(e.value).length)));
  for (const e of entries) {
    const source = e.source === 'default' ? chalk.dim(e.source) : e.source;
    out.line(`${e.key.padEnd(keyWidth)}  ${valueText(e.value).padEnd(valueWidth)}  ${source}`);
  }
  return 0;
}
