import { websocketTables } from './20260101000000_websocket_tables.js';
import { websocketSettings } from './20260101000100_websocket_settings.js';
import type { WsMigration } from './types.js';

export type { WsMigration } from './types.js';
export { WEBSOCKET_SETTINGS } from './20260101000100_websocket_settings.js';

/** In the order they apply. */
export const MIGRATIONS: readonly WsMigration[] = [websocketTables, websocketSettings];
