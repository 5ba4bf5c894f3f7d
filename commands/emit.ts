import { Command } from 'commander';
import { z } from 'zod';
import { existsSync } from 'node:fs';
import { text } from 'node:stream/consumers';
import { TeampassWsError } from '../src/errors.js';
import { describeTarget, planEvent } from '../src/ops/emit-plan.js';
import { emitEvent } from '../src/ops/emit.js';
import { readPayload } from '../src/ops/payload.js';
import type { CommandContext } from './context.js';
import { addConfigOptions, DATABASE_KEYS, loadCommandConfig, openDatabase, resolveDbTarget, configFlagsSchema, parseOptions } from './options.js';

const emitOptions = configFlagsSchema.extend({
  folder: z.string().optional(),
  user: z.string().optional(),
  kb: z.boolean().optional(),
  broadcast: z.boolean().optional(),
  excludeUser: z.string().optional(),
  data: z.string().optional(),
  dataFile: z.string().optional(),
  force: z.boolean().optional(),
  wait: z.boolean().optional(),
  timeout: z.string(),
  json: z.boolean().optional(),
});
type EmitCliOptions = z.infer<typeof emitOptions>;

export function emitCommand(ctx: CommandContext): Command {
  const cmd = new Command('emit')
    .description("write one event into websocket_events exactly as TeamPass's producers do, then wake the daemon")
    .argument('<event_type>', 'e.g. item_created, folder_permission_changed, system_maintenance')
    .argument('[fields...]', 'payload fields: key=value (numbers become numbers) or key:=<json>')
    .option('--folder <id>', 'send to the subscribers of this folder')
    .option('--user <id>', "send to this user's connections")
    .option('--kb', 'send to the knowledge-base subscribers')
    .option('--broadcast', 'send to every connection')
    .option('--exclude-user <id>', 'exclude_user_id: the acting user, who does not get the event')
    .option('-d, --data <json>', 'the payload as one JSON object')
    .option('--data-file <file>', "the payload from a JSON file ('-' for standard input)")
    .option('--force', 'send an event type TeamPass does not write, or a payload its checks refuse')
    .option('--wait', 'wait until a running daemon has processed the event')
    .option('--timeout <seconds>', 'how long --wait waits', '10')
    .option('--json', 'machine-readable output');
  addConfigOptions(cmd, [...DATABASE_KEYS, 'wake_port']);
  cmd.addHelpText(
    'after',
    `
The target is inferred from the payload for TeamPass's own events (item_created with folder_id
goes to that folder, kb_* to the knowledge base, system_maintenance to everyone); otherwise
give --folder, --user, --kb or --broadcast. With no database named, the embedded demo database
in the current folder is used (the one \`teampass-ws serve --demo\` creates).

Examples:
  teampass-ws emit item_created item_id=12 folder_id=3 label="VPN router" created_by=1 --exclude-user 1
  teampass-ws emit system_maintenance message="Upgrade at 22:00" --wait
  teampass-ws emit folder_permission_changed --user 7 --data '{"source":"direct_grant"}'
  teampass-ws emit my_custom_event --broadcast --force --data-file event.json --json`,
  );
  return cmd.action(async (eventType: string, fields: string[], raw: unknown) => {
    ctx.exitCode = await runEmit(eventType, fields, parseOptions(emitOptions, raw, 'emit'), ctx);
  });
}

function parseTimeout(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) {
    throw new TeampassWsError('USAGE', `--timeout needs a number of seconds from 0.1 to 3600, not "${value}".`, { suggestion: 'e.g. --timeout 30' });
  }
  return Math.round(seconds * 1000);
}

export async function runEmit(eventType: string, fields: string[], opts: EmitCliOptions, ctx: CommandContext): Promise<number> {
  const { out } = ctx;
  const waitTimeoutMs = opts.wait ? parseTimeout(opts.timeout) : undefined;
  // Everything the admin typed is checked before the database is even opened.
  const payload = await readPayload({ data: opts.data, dataFile: opts.dataFile, pairs: fields, readStdin: () => text(process.stdin) });
  const plan = planEvent({
    eventType,
    payload,
    target: { folder: opts.folder, user: opts.user, kb: opts.kb, broadcast: opts.broadcast, excludeUser: opts.excludeUser },
    force: opts.force,
    nowSec: Math.floor(Date.now() / 1000),
  });

  const loaded = await loadCommandConfig(opts);
  const { target, embedded } = resolveDbTarget(loaded);
  if (embedded && target.client === 'sqlite' && !existsSync(target.filename)) {
    throw new TeampassWsError('INPUT', `No database is configured, and there is no demo database (${target.filename}) in this folder.`, {
      suggestion: 'Name the database with --db or --teampass-root (or a config file), or run this where `teampass-ws serve --demo` runs.',
    });
  }
  const { db } = await openDatabase(loaded);
  try {
    if (embedded && !opts.json) out.warn(`Using the embedded demo database ${db.description}: not connected to TeamPass.`);
    for (const w of plan.warnings) if (!opts.json) out.warn(w);
    const outcome = await emitEvent(db, plan, { wakePort: loaded.config.wake_port, waitTimeoutMs });
    const disabled = outcome.websocketEnabled !== '1';
    const rows = plan.rows.map((row, i) => ({ id: outcome.ids[i], target_type: row.targetType, target_id: row.targetId }));

    if (opts.json) {
      out.json({
        id: outcome.ids[0],
        ids: outcome.ids,
        event_type: plan.eventType,
        known_event: plan.known,
        rows,
        target_source: plan.targetSource,
        payload: plan.payload,
        database: db.description,
        embedded,
        websocket_enabled: outcome.websocketEnabled,
        wake: outcome.wake,
        warnings: plan.warnings,
        ...(outcome.wait ? { processed: outcome.wait.processed, waited_ms: outcome.wait.elapsedMs } : {}),
      });
    } else {
      for (const row of rows) out.ok(`Event ${row.id} written: ${plan.eventType} → ${describeTarget({ targetType: row.target_type, targetId: row.target_id })}${plan.targetSource === 'catalogue' ? ' (from the payload)' : ''}`);
      out.line(`  payload ${JSON.stringify(plan.payload)}`);
      if (disabled) {
        out.warn(
          outcome.websocketEnabled === null
            ? `TeamPass's websocket_enabled setting is absent from ${db.t.misc}: TeamPass's own producers would write nothing.`
            : `TeamPass's websocket_enabled is '${outcome.websocketEnabled}': TeamPass's own producers write nothing while it is off (enable WebSocket in TeamPass's settings).`,
        );
      }
      if (outcome.wake === 'sent') out.line(`  wake-up datagram sent to 127.0.0.1:${loaded.config.wake_port}`);
      else if (outcome.wake !== 'off') out.warn(`wake-up datagram to 127.0.0.1:${loaded.config.wake_port} failed (${outcome.wake.error}); the daemon still finds the event at its next poll.`);
      if (outcome.wait?.processed) out.ok(`processed by the daemon after ${outcome.wait.elapsedMs} ms`);
    }
    if (outcome.wait && !outcome.wait.processed) {
      if (!opts.json) {
        out.error(`Event ${outcome.ids.join(', ')} not processed within ${Math.round((waitTimeoutMs ?? 0) / 100) / 10} s.`);
        out.info('  → Is a daemon running on this database? `teampass-ws check` shows it; the event stays queued until one polls.');
      }
      return 1;
    }
    return 0;
  } finally {
    await db.close();
  }
}
