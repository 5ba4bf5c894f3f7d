/**
 * The two servers every scenario runs against, behind one shape: `teampass-ws serve` on a
 * TeamPass-shaped database, and the bare `ws` fan-out server (raw-ws-relay.ts). Each is a fresh
 * process; events carry `"tag":…,"sent":<wall clock ms>` so a load worker can time each delivery.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { Database } from '../../src/db/index.js';
import { nowPlusSeconds } from '../../src/db/index.js';
import { sendWake } from '../../src/ops/wake.js';
import { addFolder, addRole } from '../helpers/teampass-fixture.js';
import { startDaemon, type BenchDaemon } from './daemon.js';
import { wallClockMs } from './load-messages.js';
import { procMemory, scrapeMetrics } from './process-memory.js';
import { startRelay, type Relay } from './relay.js';

export const FOLDERS = 30;
export const SUBSCRIPTIONS_PER_CLIENT = 3;
/** Connections per TeamPass user (tabs); the per-user cap stays at its default of 5. */
export const CONNECTIONS_PER_USER = 3;

export interface Target {
  readonly label: string;
  readonly pid: number;
  readonly url: string;
  /** Websocket tokens (round-robin by connection index), or null for the raw server. */
  readonly tokens: string[] | null;
  readonly folderIds: number[];
  memory(): Promise<{ rss: number; heap: number }>;
  folderEvent(folderId: number, tag: string): Promise<void>;
  broadcast(mark: string): Promise<void>;
  /** Connections the server itself refused or dropped so far, by its reason (the daemon's /metrics; absent for raw ws). */
  refusals?(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

const REFUSED_METRIC = 'teampass_ws_connections_refused_total{reason="';

const itemUpdated = (folderId: number, tag: string) => ({ item_id: 1, folder_id: folderId, label: 'bench', updated_by: 1, tag, sent: wallClockMs() });

export async function rawTarget(): Promise<Target> {
  const relay: Relay = await startRelay();
  const producer = new WebSocket(`ws://127.0.0.1:${relay.port}/produce`, { perMessageDeflate: false });
  await new Promise((resolve, reject) => producer.once('open', resolve).once('error', reject));
  const send = (m: object) => new Promise<void>((resolve, reject) => producer.send(JSON.stringify(m), (err) => (err ? reject(err) : resolve())));
  const pid = relay.child.pid!;
  return {
    label: 'raw ws',
    pid,
    url: `ws://127.0.0.1:${relay.port}/`,
    tokens: null,
    folderIds: Array.from({ length: FOLDERS }, (_, i) => i + 1),
    async memory() {
      return { rss: procMemory(pid).rss, heap: (await relay.memory()).heapUsed };
    },
    folderEvent: (folderId, tag) => {
      const data = itemUpdated(folderId, tag);
      return send({ folder_id: folderId, frame: JSON.stringify({ type: 'event', event: 'item_updated', data, timestamp: Math.floor(Date.now() / 1000) }) });
    },
    broadcast: (mark) => send({ broadcast: true, frame: JSON.stringify({ type: 'event', event: 'system_maintenance', data: { mark }, timestamp: Math.floor(Date.now() / 1000) }) }),
    async stop() {
      producer.terminate();
      await relay.stop();
    },
  };
}

export interface Fleet {
  tokens: string[];
  folderIds: number[];
}

/**
 * TeamPass's shape for `connections` clients: 30 folders, one role granting them all, a user per
 * three connections with a websocket token each (rows written in bulk, as TeamPass would have them).
 */
export async function seedFleet(db: Database, connections: number): Promise<Fleet> {
  const folderIds: number[] = [];
  for (let i = 0; i < FOLDERS; i += 1) folderIds.push(await addFolder(db, { title: `Bench folder ${i + 1}` }));
  const roleId = await addRole(db, Object.fromEntries(folderIds.map((f) => [f, 'W' as const])));
  const users = Math.ceil(connections / CONNECTIONS_PER_USER);
  const sessionEnd = String(Math.floor(Date.now() / 1000) + 4 * 3600);
  const rows = Array.from({ length: users }, (_, i) => ({
    login: `bench${i}`,
    admin: 0,
    gestionnaire: 0,
    disabled: 0,
    personal_folder: 0,
    key_tempo: randomBytes(16).toString('hex'),
    session_end: sessionEnd,
  }));
  await db.knex.batchInsert(db.t.users, rows, 1000);
  const ids = ((await db.knex(db.t.users).select('id').where('login', 'like', 'bench%').orderBy('id')) as Array<{ id: number }>).map((r) => Number(r.id));
  await db.knex.batchInsert(db.t.usersRoles, ids.map((id) => ({ user_id: id, role_id: roleId, source: 'manual' })), 1000);
  const tokens = ids.map(() => randomBytes(32).toString('hex'));
  await db.knex.batchInsert(db.t.tokens, ids.map((id, i) => ({ user_id: id, token: tokens[i]!, expires_at: nowPlusSeconds(db, 4 * 3600), used: 0 })), 1000);
  return { tokens, folderIds };
}

/** serve's own words when it does not know an option (commander). */
export const UNKNOWN_OPTION = /unknown option/i;

export async function daemonTarget(db: Database, dbUrl: string, fleet: Fleet, extra: string[] = []): Promise<Target & { daemon: BenchDaemon }> {
  const d = await startDaemon(dbUrl, ['--token-mode', 'reusable', ...extra]);
  const insert = (row: object) => db.knex(db.t.events).insert(row);
  return {
    label: 'teampass-ws',
    daemon: d,
    pid: d.pid,
    url: `ws://127.0.0.1:${d.port}/ws`,
    tokens: fleet.tokens,
    folderIds: fleet.folderIds,
    async memory() {
      const heap = (await scrapeMetrics(d.port)).get('teampass_ws_nodejs_heap_size_used_bytes');
      if (heap === undefined) throw new Error('/metrics has no teampass_ws_nodejs_heap_size_used_bytes');
      return { rss: procMemory(d.pid).rss, heap };
    },
    async folderEvent(folderId, tag) {
      await insert({ event_type: 'item_updated', target_type: 'folder', target_id: folderId, payload: JSON.stringify(itemUpdated(folderId, tag)) });
      await sendWake(d.wakePort);
    },
    async broadcast(mark) {
      await insert({ event_type: 'system_maintenance', target_type: 'broadcast', target_id: null, payload: JSON.stringify({ mark }) });
      await sendWake(d.wakePort);
    },
    async refusals() {
      const out: Record<string, number> = {};
      for (const [name, value] of await scrapeMetrics(d.port)) {
        if (name.startsWith(REFUSED_METRIC) && value > 0) out[`refused by the daemon: ${name.slice(REFUSED_METRIC.length, -2)}`] = value;
      }
      return out;
    },
    async stop() {
      await d.cli.stop();
    },
  };
}
