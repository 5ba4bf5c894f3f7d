import chalk from 'chalk';
import { z } from 'zod';
import { Command } from 'commander';
import ora, { type Ora } from 'ora';
import { TeampassWsError } from '../src/errors.js';
import { runChecks, summarise, type CheckResult, type CheckStatus } from '../src/ops/checks.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_UNIT_PATH } from '../src/ops/systemd.js';
import type { CommandContext } from './context.js';
import { addConfigOptions, configFlags, configFlagsSchema, parseOptions } from './options.js';

const checkOptions = configFlagsSchema.extend({
  json: z.boolean().optional(),
  maxConnections: z.string(),
  unitFile: z.string(),
});
type CheckCliOptions = z.infer<typeof checkOptions>;

const SYMBOL: Record<CheckStatus, string> = {
  ok: chalk.green('✔'),
  warning: chalk.yellow('!'),
  error: chalk.red('✖'),
  skipped: chalk.dim('–'),
};
const TITLE_WIDTH = 18;

export function checkCommand(ctx: CommandContext): Command {
  const cmd = new Command('check-requirements')
    .alias('check')
    .description('check everything the daemon needs: Node.js, configuration, TeamPass settings, database, tables, port, log, limits, systemd unit, origins')
    .option('--max-connections <count>', 'connections the open-file limit must allow', String(DEFAULT_MAX_CONNECTIONS))
    .option('--unit-file <file>', 'the systemd unit to look at', DEFAULT_UNIT_PATH)
    .option('--json', 'machine-readable output');
  addConfigOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Errors exit with 1, warnings alone with 0. Run it with the options the daemon runs with.

Examples:
  teampass-ws check --teampass-root /var/www/html/TeamPass
  teampass-ws check --config /etc/teampass-ws/config.json --json`,
  );
  return cmd.action(async (raw: unknown) => {
    ctx.exitCode = await runCheck(parseOptions(checkOptions, raw, 'check'), ctx);
  });
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) {
    throw new TeampassWsError('USAGE', `--max-connections needs a positive number, not "${value}".`, { suggestion: 'e.g. --max-connections 5000' });
  }
  return Number(value);
}

function resultLines(r: CheckResult): { head: string; fix?: string } {
  const head = `${chalk.bold(r.title.padEnd(TITLE_WIDTH))} ${r.status === 'skipped' ? chalk.dim(r.detail) : r.detail}`;
  return { head, ...(r.fix && r.status !== 'ok' ? { fix: `  ${' '.repeat(TITLE_WIDTH)} → ${r.fix}` } : {}) };
}

export async function runCheck(opts: CheckCliOptions, ctx: CommandContext): Promise<number> {
  const { out } = ctx;
  const input = { flags: configFlags(opts), configPath: opts.config, unitFile: opts.unitFile, maxConnections: parseCount(opts.maxConnections) };
  // Spinners only for a person at a terminal; a pipe or a script gets plain lines. A terminal
  // that reports no width (a bare pseudo-terminal) sends ora's redrawing into an endless loop.
  const interactive = !opts.json && Boolean(process.stdout.isTTY) && (process.stdout.columns ?? 0) > 0;
  let spinner: Ora | undefined;

  const results = await runChecks(input, {
    onStart(check) {
      if (interactive) spinner = ora({ text: `${check.title}…`, stream: process.stdout }).start();
    },
    onResult(result) {
      if (opts.json) return;
      const { head, fix } = resultLines(result);
      if (spinner) {
        spinner.stopAndPersist({ symbol: SYMBOL[result.status], text: head });
        spinner = undefined;
      } else out.line(`${SYMBOL[result.status]} ${head}`);
      if (fix) out.line(fix);
    },
  });

  const summary = summarise(results);
  const failed = summary.error > 0;
  if (opts.json) {
    out.json({ ok: !failed, summary, checks: results });
  } else {
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    const parts = [`${summary.ok} ok`, plural(summary.warning, 'warning'), plural(summary.error, 'error'), `${summary.skipped} skipped`];
    out.line();
    out.line(`${results.length} checks: ${parts.join(', ')}.`);
    if (failed) out.line('Fix the errors above, then run `teampass-ws check` again.');
    else if (summary.warning > 0) out.line('Ready to run; the warnings above are worth a look.');
    else out.line('Ready to run.');
  }
  return failed ? 1 : 0;
}
