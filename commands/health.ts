import { Command } from 'commander';
import { z } from 'zod';
import { TeampassWsError } from '../src/errors.js';
import { healthUrl, probeHealth } from '../src/ops/health.js';
import type { CommandContext } from './context.js';
import { addConfigOptions, loadCommandConfig, configFlagsSchema, parseOptions } from './options.js';

const healthOptions = configFlagsSchema.extend({
  url: z.string().optional(),
  timeout: z.string(),
  json: z.boolean().optional(),
});
type HealthCliOptions = z.infer<typeof healthOptions>;

export function healthCommand(ctx: CommandContext): Command {
  const cmd = new Command('health')
    .description("ask a running daemon's /healthz: exit 0 when it answers 200, 1 otherwise (for monitoring and container health checks)")
    .option('--url <url>', 'probe this URL instead of the configured host and port (e.g. http://127.0.0.1:8080/healthz)')
    .option('--timeout <seconds>', 'how long to wait for the answer', '5')
    .option('--json', 'machine-readable output');
  addConfigOptions(cmd, ['host', 'port']);
  cmd.addHelpText(
    'after',
    `
Examples:
  teampass-ws health
  teampass-ws health --port 8081
  teampass-ws health --url http://10.0.0.5:8080/healthz --json`,
  );
  return cmd.action(async (raw: unknown) => {
    ctx.exitCode = await runHealth(parseOptions(healthOptions, raw, 'health'), ctx);
  });
}

function parseTimeout(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 300) {
    throw new TeampassWsError('USAGE', `--timeout needs a number of seconds from 0.1 to 300, not "${value}".`, { suggestion: 'e.g. --timeout 3' });
  }
  return Math.round(seconds * 1000);
}

function checkedUrl(host: string, port: number, url: string | undefined): string {
  try {
    const result = healthUrl(host, port, url);
    if (!/^https?:$/.test(new URL(result).protocol)) throw new Error('not http');
    return result;
  } catch {
    throw new TeampassWsError('USAGE', `--url needs an http:// or https:// URL, not "${url}".`, { suggestion: 'e.g. --url http://127.0.0.1:8080/healthz' });
  }
}

export async function runHealth(opts: HealthCliOptions, ctx: CommandContext): Promise<number> {
  const { out } = ctx;
  const timeoutMs = parseTimeout(opts.timeout);
  let url: string;
  if (opts.url) url = checkedUrl('', 0, opts.url);
  else {
    const { config } = await loadCommandConfig(opts);
    url = checkedUrl(config.host, config.port, undefined);
  }
  const verdict = await probeHealth(url, timeoutMs);
  if (opts.json) {
    out.json(verdict.healthy ? { healthy: true, url, health: verdict.body } : { healthy: false, url, reason: verdict.reason });
  } else if (verdict.healthy) {
    const b = verdict.body;
    const details = [b.version && `version ${b.version}`, b.connections !== undefined && `${b.connections} connection${b.connections === 1 ? '' : 's'}`, b.poll_lag_ms != null && `poll lag ${b.poll_lag_ms} ms`].filter(Boolean);
    out.ok(`healthy: ${url}${details.length ? ` (${details.join(', ')})` : ''}`);
  } else {
    out.error(`unhealthy: ${url}: ${verdict.reason}`);
  }
  return verdict.healthy ? 0 : 1;
}
