import type { LoadedConfig } from '../config/load.js';
import type { ConfigKey } from '../config/schema.js';
import type { Database } from '../db/index.js';

export type CheckStatus = 'ok' | 'warning' | 'error' | 'skipped';

export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** What to do about it (warnings and errors). */
  fix?: string;
}

export type CheckVerdict = Omit<CheckResult, 'id' | 'title'>;

export interface CheckInput {
  /** Configuration flags by key, as given on the command line. */
  flags: Partial<Record<ConfigKey, unknown>>;
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The systemd unit to look at. */
  unitFile: string;
  /** Connections the open-file limit must allow. */
  maxConnections: number;
}

/** What one check learns and a later one needs (the configuration, the open database). */
export interface CheckState {
  readonly input: CheckInput;
  loaded?: LoadedConfig;
  /** Why the TeamPass settings could not be read, when they could not. */
  teampassError?: { message: string; suggestion?: string };
  db?: Database;
  embedded?: boolean;
  /** The unit file's text when it exists. */
  unitText?: string;
}

export interface CheckDef {
  id: string;
  title: string;
  run(state: CheckState): Promise<CheckVerdict>;
}

export const skipped = (detail: string): CheckVerdict => ({ status: 'skipped', detail });
