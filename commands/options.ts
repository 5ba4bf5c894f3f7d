import { Option, type Command } from 'commander';
import { z } from 'zod';
import { TeampassWsError } from '../src/errors.js';
import { CONFIG_KEYS, CONFIG_KEY_NAMES, kebab, loadConfig, type ConfigKey, type LoadedConfig } from '../src/config/index.js';
import { connectDatabase, createDatabase, embeddedTarget, type Database, type DbTarget } from '../src/db/index.js';

/** The keys that say where the database is, for commands that take nothing else. */
export const DATABASE_KEYS: readonly ConfigKey[] = ['db', 'db_host', 'db_port', 'db_user', 'db_password', 'db_password_file', 'db_name', 'db_socket', 'prefix', 'teampass_root'];

const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** Options every command that reads the configuration shares: --config and one flag per key. */
export function addConfigOptions(cmd: Command, keys: readonly ConfigKey[] = CONFIG_KEY_NAMES): Command {
  cmd.option('-c, --config <file>', 'JSON config file (else TEAMPASS_WS_CONFIG, ./teampass-ws.json, /etc/teampass-ws/config.json)');
  for (const key of keys) {
    const spec = CONFIG_KEYS[key];
    // A switch may stand alone (--log-stdout) or take true / false.
    // The default goes in the text only: a flag left out must stay undefined here, or it would
    // override the config file and the environment.
    const shown = Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default);
    const opt = new Option(`--${kebab(key)} ${spec.type.kind === 'bool' ? '[value]' : '<value>'}`, shown === '' ? spec.description : `${spec.description} (default: ${shown})`);
    cmd.addOption(opt);
  }
  return cmd;
}

/**
 * --config and the flags addConfigOptions adds, one per configuration key: kept as commander
 * gives them (strings, or true for a bare switch) for the loader to check against the key table,
 * which names the source of a bad value.
 */
export const configFlagsSchema = z.looseObject({ config: z.string().optional() });
export type ConfigFlags = z.infer<typeof configFlagsSchema>;

const flagName = (option: string) => `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * Commander's loose options as the command's typed object, the first thing each action does; an
 * option of the wrong shape (a switch given a value, say) is a usage error naming the flag.
 */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown, command: string): z.infer<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? flagName(String(issue.path[0])) : 'The options';
  throw new TeampassWsError('USAGE', `${where}: ${issue?.message ?? 'invalid'}.`, { suggestion: `Run teampass-ws ${command} --help for its options.` });
}

/** Commander's camelCase options back to config keys; values stay strings for the loader to check. */
export function configFlags(opts: ConfigFlags): Partial<Record<ConfigKey, unknown>> {
  const out: Partial<Record<ConfigKey, unknown>> = {};
  for (const key of CONFIG_KEY_NAMES) {
    const value = opts[camel(key)];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

export async function loadCommandConfig(opts: ConfigFlags): Promise<LoadedConfig> {
  return loadConfig({ flags: configFlags(opts), configPath: opts.config });
}

export interface OpenedDatabase {
  db: Database;
  /** True when nothing named a database and the embedded demo file is used. */
  embedded: boolean;
}

export function resolveDbTarget(loaded: LoadedConfig): { target: DbTarget; embedded: boolean } {
  return loaded.dbTarget ? { target: loaded.dbTarget, embedded: false } : { target: embeddedTarget(), embedded: true };
}

/** The configured database, not connected yet: the first query connects. */
export function createCommandDatabase(loaded: LoadedConfig): OpenedDatabase {
  const { target, embedded } = resolveDbTarget(loaded);
  return { db: createDatabase(target, { prefix: loaded.config.prefix }), embedded };
}

export async function openDatabase(loaded: LoadedConfig): Promise<OpenedDatabase> {
  const { target, embedded } = resolveDbTarget(loaded);
  return { db: await connectDatabase(target, { prefix: loaded.config.prefix }), embedded };
}
