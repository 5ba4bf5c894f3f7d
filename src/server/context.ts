import type { AccessCache, MiscSettings } from '../access/index.js';
import type { Authenticator } from '../auth/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import type { ConnectionAudit } from './audit.js';
import type { EventFeed } from '../delivery.js';
import type { EditionLocks } from './edition-locks.js';
import type { Presence } from './presence.js';
import type { ConnectionRegistry } from './registry.js';

/** What the per-client code shares: built once by createServer, passed down explicitly. */
export interface ServerContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly settings: MiscSettings;
  readonly access: AccessCache;
  readonly authenticator: Authenticator;
  readonly registry: ConnectionRegistry;
  readonly presence: Presence;
  readonly locks: EditionLocks;
  readonly audit: ConnectionAudit;
  readonly feed: EventFeed;
  /** True once stop() began: closes are shutdown closes (locks are kept for the reconnect). */
  stopping(): boolean;
}
