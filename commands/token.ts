import { Command } from 'commander';
import { z } from 'zod';
import { TeampassWsError } from '../src/errors.js';
import { MAX_TOKEN_TTL_SEC, issueWsToken } from '../src/ops/token-issue.js';
import { clientLines, tokenUrl } from '../src/ops/token-url.js';
import type { CommandContext } from './context.js';
import { addConfigOptions, loadCommandConfig, openDatabase, resolveDbTarget, configFlagsSchema, parseOptions } from './options.js';

const tokenOptions = configFlagsSchema.extend({
  ttl: z.string().optional(),
  url: z.union([z.string(), z.boolean()]).optional(),
  json: z.boolean().optional(),
});
type TokenCliOptions = z.infer<typeof tokenOptions>;

export function tokenCommand(ctx: CommandContext): Command {
  const cmd = new Command('token')
    .description("issue a websocket token for a TeamPass user, as TeamPass's page does, to try a live install without SQL")
    .argument('<login>', "the user's TeamPass login")
    .option('--ttl <seconds>', 'lifetime (default: 3600 for reusable tokens as in TeamPass 3.2, 60 for single_use as in 3.1)')
    .option('--url [base]', 'print a ready websocat / wscat line (base default: ws://host:port/ of the configuration)')
    .option('--json', 'machine-readable output');
  addConfigOptions(cmd, ['db', 'prefix', 'teampass_root', 'token_mode', 'host', 'port']);
  cmd.addHelpText(
    'after',
    `
The daemon accepts the token only while the user has a live TeamPass session (logged in);
a warning says so when the user has none.

Examples:
  teampass-ws token alice --teampass-root /var/www/html/TeamPass
  teampass-ws token alice --url
  teampass-ws token alice --url wss://teampass.example.com/ws --ttl 600 --json`,
  );
  return cmd.action(async (login: string, raw: unknown) => {
    ctx.exitCode = await runToken(login, parseOptions(tokenOptions, raw, 'token'), ctx);
  });
}

function parseTtl(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || Number(value) > MAX_TOKEN_TTL_SEC) {
    throw new TeampassWsError('USAGE', `--ttl needs a whole number of seconds from 1 to ${MAX_TOKEN_TTL_SEC}, not "${value}".`, { suggestion: 'e.g. --ttl 600' });
  }
  return Number(value);
}

function parseBase(value: string | boolean | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    if (/^wss?:$/.test(new URL(value).protocol)) return value;
  } catch {
    // reported below
  }
  throw new TeampassWsError('USAGE', `--url needs a ws:// or wss:// URL, not "${value}".`, { suggestion: 'e.g. --url wss://teampass.example.com/ws, or --url alone for the configured host and port' });
}

export async function runToken(login: string, opts: TokenCliOptions, ctx: CommandContext): Promise<number> {
  const { out } = ctx;
  const ttlSec = parseTtl(opts.ttl);
  const base = parseBase(opts.url);
  if (login.trim() === '') throw new TeampassWsError('USAGE', 'The login is empty.', { suggestion: 'teampass-ws token <login>' });
  const loaded = await loadCommandConfig(opts);
  if (resolveDbTarget(loaded).embedded) {
    throw new TeampassWsError('INPUT', 'No database is configured: a token only makes sense for a TeamPass database.', {
      suggestion: 'Name it with --teampass-root, --db or a config file (the demo prints its own tokens at start).',
    });
  }
  const { db } = await openDatabase(loaded);
  try {
    const issued = await issueWsToken(db, login, { mode: loaded.tokenMode, ...(ttlSec ? { ttlSec } : {}) });
    const url = opts.url ? tokenUrl(issued.token, loaded.config.host, loaded.config.port, base) : undefined;
    if (opts.json) {
      out.json({
        token: issued.token,
        user_id: issued.userId,
        login: issued.login,
        token_mode: issued.mode,
        ttl_sec: issued.ttlSec,
        ...(url ? { url, commands: clientLines(url) } : {}),
        ...(issued.sessionWarning ? { warning: issued.sessionWarning } : {}),
      });
      return 0;
    }
    if (issued.sessionWarning) out.warn(issued.sessionWarning);
    const use = issued.mode === 'single_use' ? 'single use' : 'reusable';
    process.stderr.write(`Token for ${issued.login} (user ${issued.userId}), ${use}, valid ${issued.ttlSec} s:\n`);
    out.line(issued.token);
    if (url) for (const line of clientLines(url)) out.line(line);
    return 0;
  } finally {
    await db.close();
  }
}
