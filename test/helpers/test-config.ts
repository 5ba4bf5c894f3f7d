import { defaultConfig, type Config } from '../../src/config/index.js';

/** The daemon's defaults with small intervals, so time-based behaviour shows within a second or two. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    ...defaultConfig(),
    host: '127.0.0.1',
    port: 0,
    session_check_sec: 1,
    ping_interval_sec: 1,
    pong_timeout_sec: 60,
    auth_timeout_sec: 3,
    poll_interval_ms: 20,
    cleanup_interval_sec: 3600,
    wake_port: 0,
    ...overrides,
  };
}
