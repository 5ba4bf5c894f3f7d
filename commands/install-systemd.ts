import { Command } from 'commander';
import { z } from 'zod';
import path from 'node:path';
import type { ConfigKey } from '../src/config/index.js';
import { TeampassWsError } from '../src/errors.js';
import {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_UNIT_PATH,
  UNIT_NAME,
  isUnitDirectory,
  planUnit,
  renderUnit,
  systemctl,
  systemdRunning,
  writeUnit,
} from '../src/ops/systemd.js';
import { packageInfo } from '../src/ops/package-info.js';
import type { CommandContext } from './context.js';
import { addConfigOptions, configFlags, loadCommandConfig, configFlagsSchema, parseOptions } from './options.js';
import { requireDatabase } from './serve-mode.js';

const installOptions = configFlagsSchema.extend({
  user: z.string(),
  group: z.string().optional(),
  workingDirectory: z.string().optional(),
  maxConnections: z.string(),
  output: z.string().optional(),
  dryRun: z.boolean().optional(),
  force: z.boolean().optional(),
  enable: z.boolean().optional(),
});
type InstallCliOptions = z.infer<typeof installOptions>;

export function installSystemdCommand(ctx: CommandContext): Command {
  const cmd = new Command('install-systemd')
    .description(`write the systemd unit ${UNIT_NAME} (the one TeamPass's admin panel starts and stops), hardened, for \`serve\``)
    .option('--user <name>', 'account the daemon runs as', 'www-data')
    .option('--group <name>', "group the daemon runs as (default: the user's own)")
    .option('--working-directory <dir>', "the service's working directory (default: this package's folder)")
    .option('--max-connections <count>', 'connections to size LimitNOFILE for', String(DEFAULT_MAX_CONNECTIONS))
    .option('--output <file>', `where to write the unit (default ${DEFAULT_UNIT_PATH})`)
    .option('--dry-run', 'print the unit, write nothing')
    .option('--force', 'replace an existing, different unit')
    .option('--enable', 'also run systemctl enable --now (as root, with systemd running)');
  addConfigOptions(cmd);
  cmd.addHelpText(
    'after',
    `
The configuration the daemon will use is read now and validated: a config file (--config, or
the one found) is passed to \`serve\` as --config; configuration flags given here are passed on.

Examples:
  sudo teampass-ws install-systemd --config /etc/teampass-ws/config.json --enable
  sudo teampass-ws install-systemd --teampass-root /var/www/html/TeamPass --log-file /var/log/teampass-ws/teampass-ws.log
  teampass-ws install-systemd --dry-run --user teampass --max-connections 20000`,
  );
  return cmd.action(async (raw: unknown) => {
    ctx.exitCode = await runInstallSystemd(parseOptions(installOptions, raw, 'install-systemd'), ctx);
  });
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || Number(value) > 10_000_000) {
    throw new TeampassWsError('USAGE', `--max-connections needs a number from 1 to 10000000, not "${value}".`, { suggestion: 'e.g. --max-connections 20000' });
  }
  return Number(value);
}

export async function runInstallSystemd(opts: InstallCliOptions, ctx: CommandContext): Promise<number> {
  const { out } = ctx;
  const maxConnections = parseCount(opts.maxConnections);
  const loaded = await loadCommandConfig(opts);
  requireDatabase(loaded, 'install-systemd');
  const flagValues = Object.fromEntries(Object.entries(configFlags(opts)).map(([k, v]) => [k, String(v)])) as Partial<Record<ConfigKey, string>>;
  const plan = planUnit({ loaded, flagValues, user: opts.user, group: opts.group, workingDirectory: opts.workingDirectory, maxConnections });
  const unit = renderUnit(plan.spec);
  for (const w of plan.warnings) out.warn(w);

  if (opts.dryRun) {
    out.line(unit.trimEnd());
    return 0;
  }

  const target = path.resolve(opts.output ?? DEFAULT_UNIT_PATH);
  const outcome = writeUnit(target, unit, Boolean(opts.force));
  out.ok(outcome === 'unchanged' ? `${target} is already up to date` : `${outcome === 'created' ? 'Wrote' : 'Replaced'} ${target}`);

  if (loaded.config.log_file) describeLogRotation(ctx, path.resolve(loaded.config.log_file));

  const isRoot = process.getuid?.() === 0;
  const live = isUnitDirectory(target) && isRoot && systemdRunning();
  if (!live) {
    if (opts.enable) out.warn(`not enabling: ${!isUnitDirectory(target) ? `${target} is not in a systemd unit folder` : !isRoot ? 'not running as root' : 'systemd is not running on this machine'}`);
    out.line('Next, as root:');
    if (!isUnitDirectory(target)) out.line(`  cp ${target} ${DEFAULT_UNIT_PATH}`);
    out.line(`  systemctl daemon-reload && systemctl enable --now ${UNIT_NAME}`);
    return 0;
  }
  const steps = [['daemon-reload'], ...(opts.enable ? [['enable', '--now', UNIT_NAME]] : [])];
  for (const args of steps) {
    const r = systemctl(args);
    if (!r.ok) {
      throw new TeampassWsError('IO', `${r.command} failed: ${r.output || 'no output'}.`, {
        suggestion: `See \`journalctl -u ${UNIT_NAME}\` and \`systemctl status ${UNIT_NAME}\`.`,
      });
    }
    out.ok(r.command);
  }
  if (!opts.enable) out.line(`Start it with: systemctl enable --now ${UNIT_NAME}`);
  return 0;
}

/** The unit's log needs rotating; the daemon reopens it on the SIGHUP the shipped file sends. */
function describeLogRotation(ctx: CommandContext, logFile: string): void {
  const template = path.join(packageInfo().root, 'templates', 'logrotate');
  const elsewhere = path.dirname(logFile) === '/var/log/teampass-ws' ? '' : ` (then change its path to ${path.dirname(logFile)}/*.log)`;
  ctx.out.line(`Log rotation: sudo cp ${template} /etc/logrotate.d/teampass-ws${elsewhere}; it renames ${logFile} and sends the daemon SIGHUP to reopen it.`);
}
