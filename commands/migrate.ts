import { Command } from 'commander';
import { z } from 'zod';
import { TeampassWsError } from '../src/errors.js';
import { Migrator, type MigrationPlan } from '../migrations/migrator.js';
import { surveyTeampassTables, type TeampassTables } from '../src/ops/teampass-tables.js';
import { websocketSettings } from '../migrations/20260101000100_websocket_settings.js';
import type { CommandContext } from './context.js';
import { addConfigOptions, DATABASE_KEYS, loadCommandConfig, openDatabase, configFlagsSchema, parseOptions } from './options.js';

const migrateOptions = configFlagsSchema.extend({
  status: z.boolean().optional(),
  rollback: z.boolean().optional(),
  dryRun: z.boolean().optional(),
  force: z.boolean().optional(),
  json: z.boolean().optional(),
});
type MigrateOptions = z.infer<typeof migrateOptions>;

export function migrateCommand(ctx: CommandContext): Command {
  const cmd = new Command('migrate')
    .description("create or adopt the websocket_* tables and TeamPass's websocket settings rows")
    .option('--status', 'list applied and pending migrations')
    .option('--rollback', 'undo the last batch of migrations')
    .option('--dry-run', 'print the SQL that would run, change nothing')
    .option('--force', 'with --rollback: drop the websocket tables even when they hold rows')
    .option('--json', 'machine-readable output');
  addConfigOptions(cmd, DATABASE_KEYS);
  cmd.addHelpText(
    'after',
    `
Examples:
  teampass-ws migrate --teampass-root /var/www/TeamPass
  teampass-ws migrate --db mysql://teampass:secret@127.0.0.1:3306/teampass --status
  teampass-ws migrate --db sqlite:./teampass-ws.sqlite --dry-run`,
  );
  return cmd.action(async (raw: unknown) => {
    ctx.exitCode = await runMigrate(parseOptions(migrateOptions, raw, 'migrate'), ctx);
  });
}

export async function runMigrate(opts: MigrateOptions, ctx: CommandContext): Promise<number> {
  const { out } = ctx;
  if (opts.status && opts.rollback) {
    throw new TeampassWsError('USAGE', '--status and --rollback cannot be combined.', { suggestion: 'Run one, then the other.' });
  }
  if (opts.force && !opts.rollback) {
    throw new TeampassWsError('USAGE', '--force only goes with --rollback (it lets a rollback drop tables that hold rows).', { suggestion: 'Drop --force, or add --rollback.' });
  }
  const loaded = await loadCommandConfig(opts);
  const { db, embedded } = await openDatabase(loaded);
  try {
    const migrator = new Migrator(db);
    if (!opts.json) out.line(`Database: ${db.description}${embedded ? ' (embedded demo database: not connected to TeamPass)' : ''}`);
    const tables = await surveyTeampassTables(db);
    const warnings = tables.warning ? [tables.warning.text] : [];
    if (tables.warning && !opts.json) {
      out.warn(tables.warning.text);
      out.info(`  → ${tables.warning.fix}`);
    }

    if (opts.status) {
      const status = await migrator.status();
      if (opts.json) out.json({ database: db.description, migrations: status, warnings });
      else {
        for (const s of status) out.line(`  ${s.applied ? 'applied' : 'pending'}  ${s.name}${s.applied ? `  (batch ${s.batch}, ${s.appliedAt})` : ''}\n           ${s.description}`);
        const pending = status.filter((s) => !s.applied).length;
        out.line(pending ? `${pending} pending: run \`teampass-ws migrate\` to apply.` : 'Up to date.');
      }
      return 0;
    }

    if (opts.dryRun) {
      const plans = opts.rollback ? await migrator.planRollback() : await migrator.planLatest();
      if (opts.json) out.json({ database: db.description, dryRun: true, rollback: Boolean(opts.rollback), plans, warnings });
      else {
        if (plans.length === 0) out.line(opts.rollback ? 'Nothing to roll back.' : 'Nothing to apply: up to date.');
        for (const plan of plans) {
          out.line(`-- ${plan.name}`);
          if (plan.statements.length === 0) out.line(`-- (${emptyPlanReason(plan, tables, db.t.misc)})`);
          for (const sql of plan.statements) out.line(`${sql};`);
        }
        out.line('-- dry run: nothing was changed');
      }
      return 0;
    }

    if (opts.rollback) {
      const counts = await migrator.rowCounts();
      const withRows = Object.entries(counts).filter(([, n]) => n > 0);
      const plans = await migrator.planRollback();
      const drops = plans.some((p) => p.statements.some((s) => /DROP TABLE/i.test(s)));
      if (drops && withRows.length > 0 && !opts.force) {
        throw new TeampassWsError('MIGRATION', `Rolling back would drop tables that hold rows: ${withRows.map(([t, n]) => `${t} (${n})`).join(', ')}.`, {
          suggestion: "TeamPass's producers and admin panel use these tables. Add --force if you really mean to drop them.",
        });
      }
      const names = await migrator.rollback();
      if (opts.json) out.json({ database: db.description, rolledBack: names, warnings });
      else if (names.length === 0) out.line('Nothing to roll back.');
      else for (const n of names) out.ok(`rolled back ${n}`);
      return 0;
    }

    const names = await migrator.latest();
    if (opts.json) out.json({ database: db.description, applied: names, warnings });
    else if (names.length === 0) out.ok('Up to date: nothing to apply.');
    else for (const n of names) out.ok(`applied ${n}`);
    return 0;
  } finally {
    await db.close();
  }
}

/** Why a pending migration needs no statement: the settings rows are only seeded into TeamPass's misc table. */
function emptyPlanReason(plan: MigrationPlan, tables: TeampassTables, misc: string): string {
  if (plan.name === websocketSettings.name && tables.missing.includes(misc)) return `nothing to do: no ${misc} table: no settings rows to seed`;
  return 'no statement needed: already in shape';
}
