import chalk from 'chalk';
import { z } from 'zod';
import { Command } from 'commander';
import { statSync } from 'node:fs';
import path from 'node:path';
import { TeampassWsError } from '../src/errors.js';
import { LogFilter } from '../src/ops/log-filter.js';
import { formatRecord, jsonRecord } from '../src/ops/log-format.js';
import type { LogRecord } from '../src/ops/log-record.js';
import { followFile, tailFile } from '../src/ops/log-tail.js';
import type { CommandContext } from './context.js';
import { addConfigOptions, loadCommandConfig, configFlagsSchema, parseOptions } from './options.js';
import { stopSignal } from './signals.js';

const tailOptions = configFlagsSchema.extend({
  lines: z.string(),
  follow: z.boolean().optional(),
  level: z.string().optional(),
  user: z.string().optional(),
  since: z.string().optional(),
  grep: z.string().optional(),
  json: z.boolean().optional(),
});
type TailCliOptions = z.infer<typeof tailOptions>;

export function tailLogsCommand(ctx: CommandContext): Command {
  const cmd = new Command('tail-logs')
    .description("print the end of the daemon's log and follow it; reads this daemon's JSON lines and TeamPass's PHP daemon log alike")
    .argument('[file]', 'log file to read (default: log_file from the configuration)')
    .option('-n, --lines <count>', 'how many lines to print first', '20')
    .option('-f, --follow', 'keep printing new lines, across rotation and truncation, until interrupted')
    .option('--level <level>', 'only this level and more severe ones: error, warn, info, debug')
    .option('--user <id>', 'only lines about this user (user id or login in the line)')
    .option('--since <when>', 'only lines since a duration ago (30s, 10m, 2h, 1d) or a time (2025-03-01T14:00)')
    .option('--grep <regex>', 'only lines whose text matches')
    .option('--json', 'one JSON object per line (raw for JSON logs), no colours');
  addConfigOptions(cmd, ['log_file']);
  cmd.addHelpText(
    'after',
    `
Examples:
  teampass-ws tail-logs -f
  teampass-ws tail-logs -n 100 --level warn --since 2h
  teampass-ws tail-logs --user 12 --grep subscribe -f
  teampass-ws tail-logs /var/www/html/TeamPass/websocket/logs/websocket.log --json`,
  );
  return cmd.action(async (file: string | undefined, raw: unknown) => {
    ctx.exitCode = await runTailLogs(file, parseOptions(tailOptions, raw, 'tail-logs'), ctx);
  });
}

function refuseFolder(file: string): void {
  let folder = false;
  try {
    folder = statSync(file).isDirectory();
  } catch {
    return; // absent or unreadable: said by the reader, or waited for with -f
  }
  if (folder) {
    throw new TeampassWsError('INPUT', `${file} is a folder, not a log file.`, {
      suggestion: `Name the file in it: teampass-ws tail-logs ${path.join(file, 'teampass-ws.log')} (or set log_file).`,
    });
  }
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value.trim())) {
    throw new TeampassWsError('USAGE', `-n needs a number of lines, not "${value}".`, { suggestion: 'e.g. -n 50 (0 prints nothing before following).' });
  }
  return Number(value);
}

/**
 * Standard output going away (piped into head, a closed terminal) ends the command quietly
 * instead of with an EPIPE stack trace. The listener stays for the life of the process: write
 * errors arrive after the writes that caused them, possibly after the command returned.
 */
function watchOutput(): { closed: () => boolean; gone: Promise<void> } {
  let closed = false;
  let onGone: () => void = () => undefined;
  const gone = new Promise<void>((resolve) => (onGone = resolve));
  process.stdout.on('error', () => {
    closed = true;
    onGone();
  });
  return { closed: () => closed, gone };
}

export async function runTailLogs(fileArg: string | undefined, opts: TailCliOptions, ctx: CommandContext): Promise<number> {
  const { out } = ctx;
  const count = parseCount(opts.lines);
  const filter = new LogFilter({ level: opts.level, user: opts.user, since: opts.since, grep: opts.grep });
  let file = fileArg;
  if (!file) {
    const loaded = await loadCommandConfig(opts);
    if (!loaded.config.log_file) {
      throw new TeampassWsError('INPUT', 'No log file is configured: the daemon logs to standard output only.', {
        suggestion: 'Under systemd read it with `journalctl -u teampass-websocket -f`; or set log_file (--log-file) and restart the daemon; or name a file: teampass-ws tail-logs FILE.',
      });
    }
    file = loaded.config.log_file;
  }
  file = path.resolve(file);
  refuseFolder(file);

  const colour = !opts.json && Boolean(process.stdout.isTTY) && chalk.level > 0;
  const output = watchOutput();
  const show = (record: LogRecord) => {
    if (!output.closed()) out.line(opts.json ? jsonRecord(record) : formatRecord(record, colour));
  };
  if (!opts.follow) {
    const { records } = await tailFile(file, count, filter);
    for (const r of records) {
      if (output.closed()) break;
      show(r);
    }
    return 0;
  }

  let startOffset: number | undefined;
  try {
    const { records, endOffset } = await tailFile(file, count, filter, { includePartial: false });
    for (const r of records) show(r);
    startOffset = endOffset;
  } catch (err) {
    // Following a file that is not there yet is fine: it is waited for, as `tail -F` does.
    if (!(err instanceof TeampassWsError && /no such file/.test(err.message))) throw err;
    startOffset = 0;
  }
  const stop = stopSignal();
  const follower = followFile(file, filter, {
    startOffset,
    onRecord: show,
    onNotice: (message) => out.warn(message),
  });
  await Promise.race([stop.received, output.gone]);
  stop.dispose();
  await follower.stop();
  return 0;
}
