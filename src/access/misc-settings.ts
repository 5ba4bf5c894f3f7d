import { SettingsRepository, type Database } from '../db/index.js';

/** The misc (type 'admin') settings the daemon reads; everything else in misc is TeamPass's business. */
export const READ_SETTINGS = ['enable_kb', 'enable_pf_feature', 'cpassman_url', 'api_jwt_secret', 'jwt_secret', 'websocket_enabled'] as const;
export type SettingName = (typeof READ_SETTINGS)[number];

export interface SettingValue {
  value: string;
  /** TeamPass marks some misc values as encrypted with its defuse key. */
  encrypted: boolean;
}

/**
 * A snapshot of TeamPass's admin settings, refreshed periodically, so per-connection checks
 * (origin, KB channel, JWT secret) never wait on the database.
 */
export class MiscSettings {
  private values = new Map<SettingName, SettingValue>();
  private readonly repo: SettingsRepository;

  constructor(db: Database) {
    this.repo = new SettingsRepository(db);
  }

  async refresh(): Promise<void> {
    const next = new Map<SettingName, SettingValue>();
    for (const row of await this.repo.readMany(READ_SETTINGS)) next.set(row.name, { value: row.value, encrypted: row.encrypted });
    this.values = next;
  }

  get(name: SettingName): SettingValue | undefined {
    return this.values.get(name);
  }

  value(name: SettingName): string {
    return this.values.get(name)?.value ?? '';
  }

  /** TeamPass stores switches as '1' / '0'. */
  enabled(name: SettingName): boolean {
    return this.value(name).trim() === '1';
  }
}
