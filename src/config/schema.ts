/**
 * Every configuration key, with TeamPass's own key names and defaults where the PHP daemon has
 * them. This table drives validation, the kebab-case flags, the TEAMPASS_WS_* env vars and the
 * README reference, so a key exists in exactly one place: the Config type is derived from it.
 * Inside the code a key keeps the name an admin types (snake_case with its unit, poll_interval_ms),
 * so a log line, an error and the code say the same word; camelCase is for the options objects
 * of the components that take a few of these values.
 */
export type KeyType =
  | { kind: 'int'; min: number; max: number }
  | { kind: 'string'; allowEmpty?: boolean }
  | { kind: 'enum'; values: readonly string[] }
  /** Comma separated or an array; `of: 'origin'` entries must be able to match a browser's Origin. */
  | { kind: 'list'; of?: 'origin' }
  | { kind: 'bool' }
  /** A whole number in range, or 'auto' (resolved where it is used, e.g. to the CPU count). */
  | { kind: 'int_or_auto'; min: number; max: number };

export interface KeySpec {
  readonly type: KeyType;
  readonly default: unknown;
  readonly description: string;
  /** Set when the key is this project's addition to TeamPass's configuration. */
  readonly addition?: boolean;
}

const int = (min: number, max: number) => ({ kind: 'int', min, max }) as const;
const MAX_INT = 2_147_483_647;

export const CONFIG_KEYS = {
  host: { type: { kind: 'string' }, default: '127.0.0.1', description: 'Address the daemon listens on' },
  port: { type: int(1, 65535), default: 8080, description: 'TCP port for websocket and HTTP' },
  db: {
    type: { kind: 'string', allowEmpty: true },
    default: '',
    description: 'Database: mysql://user:pass@host:port/name or sqlite:<path> (empty: from --teampass-root, else the embedded demo)',
    addition: true,
  },
  db_host: { type: { kind: 'string', allowEmpty: true }, default: '', description: "MySQL host, as TeamPass's DB_HOST (with db_user and db_name, instead of a db URL: no escaping needed)", addition: true },
  db_port: { type: int(1, 65535), default: 3306, description: "MySQL port (DB_PORT)", addition: true },
  db_user: { type: { kind: 'string', allowEmpty: true }, default: '', description: 'MySQL user (DB_USER)', addition: true },
  db_password: { type: { kind: 'string', allowEmpty: true }, default: '', description: 'MySQL password, as typed (DB_PASSWD in clear)', addition: true },
  db_password_file: { type: { kind: 'string', allowEmpty: true }, default: '', description: 'File holding the MySQL password (a final newline is ignored)', addition: true },
  db_name: { type: { kind: 'string', allowEmpty: true }, default: '', description: 'MySQL database name (DB_NAME)', addition: true },
  db_socket: { type: { kind: 'string', allowEmpty: true }, default: '', description: 'MySQL Unix socket, instead of db_host and db_port', addition: true },
  prefix: { type: { kind: 'string', allowEmpty: true }, default: 'teampass_', description: 'TeamPass table prefix (DB_PREFIX)', addition: true },
  teampass_root: {
    type: { kind: 'string', allowEmpty: true },
    default: '',
    description: "TeamPass's root folder: reads settings.php for the database and decrypts DB_PASSWD",
    addition: true,
  },
  poll_interval_ms: { type: int(10, 60_000), default: 200, description: 'How often the events table is polled (ms)' },
  poll_batch_size: { type: int(1, 10_000), default: 100, description: 'Events read per poll' },
  max_connections_per_user: { type: int(1, 10_000), default: 5, description: 'Simultaneous connections per user' },
  max_message_size: { type: int(64, 16 * 1024 * 1024), default: 65_536, description: 'Largest client message answered (bytes); larger ones get message_too_large' },
  max_frame_bytes: {
    type: int(1024, 64 * 1024 * 1024),
    default: 1_048_576,
    description: 'Hard cap on one incoming frame (bytes); larger frames close the connection with 1009',
    addition: true,
  },
  // Each connection keeps the times of up to this many messages (sliding window): 10 000 bounds it at 80 kB.
  rate_limit_messages: { type: int(1, 10_000), default: 10, description: 'Messages allowed per window per connection (a sliding window, as the PHP daemon)' },
  rate_limit_window_ms: { type: int(1, 3_600_000), default: 1000, description: 'Rate limit window (ms)' },
  ping_interval_sec: { type: int(1, 3600), default: 30, description: 'Server heartbeat interval (s)' },
  pong_timeout_sec: { type: int(1, 86_400), default: 60, description: 'A connection silent this long is closed (s)' },
  log_file: { type: { kind: 'string', allowEmpty: true }, default: '', description: 'JSON log file (empty: none; serve then writes its log as lines on standard error)' },
  log_level: { type: { kind: 'enum', values: ['error', 'warn', 'info', 'debug'] }, default: 'info', description: 'Log level' },
  log_check_interval_ms: {
    type: int(0, 3_600_000),
    default: 5000,
    description: 'How often serve checks whether log rotation moved the log file away, to reopen it (ms; 0: only on SIGHUP)',
    addition: true,
  },
  log_stdout: { type: { kind: 'bool' }, default: false, description: 'serve also writes its JSON log lines to standard output (containers, log collectors)', addition: true },
  event_retention_hours: { type: int(1, 24 * 365), default: 24, description: 'Processed events, expired tokens and closed connection rows are kept this long (h)' },
  cleanup_interval_sec: { type: int(10, 86_400 * 7), default: 3600, description: 'How often old rows are cleaned up (s)' },
  session_check_sec: { type: int(1, 86_400), default: 30, description: 'How often TeamPass sessions are re-checked (s)', addition: true },
  access_refresh_sec: { type: int(1, 86_400), default: 300, description: 'Folder access is recomputed at least this often (s)', addition: true },
  auth_timeout_sec: { type: int(1, 600), default: 10, description: 'Time for a connection to authenticate with a first message (s)', addition: true },
  handshake_timeout_ms: {
    type: int(500, 600_000),
    default: 5000,
    description: 'Time a client has, from the first byte of its HTTP request, to send the whole request or upgrade headers before it is dropped (ms)',
    addition: true,
  },
  silent_connection_timeout_ms: {
    type: int(500, 600_000),
    default: 20_000,
    description:
      'Time a new connection may stay silent before the first byte of its request (ms; never less than handshake_timeout_ms): a request the kernel dropped while the listen queue was full comes seconds later',
    addition: true,
  },
  allowed_origins: {
    type: { kind: 'list', of: 'origin' },
    default: [],
    description: "Origins allowed for browser connections, comma separated (empty: the cpassman_url origin, or the request's own origin)",
    addition: true,
  },
  trusted_proxies: {
    type: { kind: 'list' },
    default: ['127.0.0.1', '::1'],
    description: 'Proxy addresses whose X-Forwarded-For is believed, comma separated',
    addition: true,
  },
  token_mode: {
    type: { kind: 'enum', values: ['auto', 'reusable', 'single_use'] },
    default: 'auto',
    description: "Websocket token mode: reusable (TeamPass 3.2), single_use (3.1), auto (single_use when --teampass-root finds 3.1)",
    addition: true,
  },
  jwt_secret: { type: { kind: 'string', allowEmpty: true }, default: '', description: 'HS256 secret for API JWTs, when TeamPass does not provide one', addition: true },
  wake_port: { type: int(0, 65535), default: 0, description: 'Loopback UDP port whose datagrams trigger an immediate poll (0: off)', addition: true },
  gap_grace_ms: {
    type: int(0, MAX_INT),
    default: 0,
    description: 'How long an event id missing behind later ones (an open transaction) is watched and delivered if it commits (ms; 0: event_retention_hours)',
    addition: true,
  },
  max_buffered_bytes: {
    type: int(1024, MAX_INT),
    default: 4 * 1024 * 1024,
    description: 'Outgoing bytes a client may fall behind before it is closed as a slow consumer (4503)',
    addition: true,
  },
  max_event_bytes: {
    type: int(1024, MAX_INT),
    default: 262_144,
    description: 'Largest event frame sent (bytes); a larger event is logged, counted and never sent, live or on recovery',
    addition: true,
  },
  max_pending_connections: {
    type: int(1, 1_000_000),
    default: 1000,
    description: 'Connections still waiting to send a credential, all addresses together; more are refused with HTTP 503 (at most half the open-file limit)',
    addition: true,
  },
  max_pending_per_ip: {
    type: int(1, 1_000_000),
    default: 100,
    description: 'The same, per client address (an IPv6 client per /64)',
    addition: true,
  },
  workers: {
    type: { kind: 'int_or_auto', min: 1, max: 64 },
    default: 1,
    description: 'serve: daemon processes sharing the port, each with its own poller (auto: one per CPU core; 1: a single process)',
    addition: true,
  },
  healthz_max_lag_ms: { type: int(100, 3_600_000), default: 30_000, description: '/healthz answers 503 when the poller is behind by more than this (ms)', addition: true },
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof CONFIG_KEYS;

/** The value a key's type descriptor stands for: the table is the only list of keys and types. */
export type KeyValue<T extends KeyType> = T extends { kind: 'int' }
  ? number
  : T extends { kind: 'string' }
    ? string
    : T extends { kind: 'enum'; values: ReadonlyArray<infer V> }
      ? V
      : T extends { kind: 'list' }
        ? string[]
        : T extends { kind: 'bool' }
          ? boolean
          : T extends { kind: 'int_or_auto' }
            ? number | 'auto'
            : never;

/** The loaded configuration, one property per key of CONFIG_KEYS with its type derived from the descriptor. */
export type Config = { -readonly [K in ConfigKey]: KeyValue<(typeof CONFIG_KEYS)[K]['type']> };

export const CONFIG_KEY_NAMES = Object.keys(CONFIG_KEYS) as ConfigKey[];

/** A key's default, as the type the key holds (a list is copied, so a caller may change it). */
export function defaultValue<K extends ConfigKey>(key: K): Config[K] {
  const value: unknown = CONFIG_KEYS[key].default;
  // The table's `satisfies KeySpec` and KeyValue describe the same descriptor; the defaults are literals of it.
  return (Array.isArray(value) ? [...(value as string[])] : value) as Config[K];
}

export function defaultConfig(): Config {
  return Object.fromEntries(CONFIG_KEY_NAMES.map((key) => [key, defaultValue(key)])) as Config;
}

export const kebab = (key: string): string => key.replace(/_/g, '-');
export const envName = (key: string): string => `TEAMPASS_WS_${key.toUpperCase()}`;

/** Keys whose values must never be printed or logged. */
export const SECRET_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>(['jwt_secret', 'db', 'db_password']);
