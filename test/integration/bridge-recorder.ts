import dgram from 'node:dgram';
import { createEventBridge, type EventBridge } from '../../src/bridge/index.js';
import type { Config } from '../../src/config/index.js';
import type { Database } from '../../src/db/index.js';
import { Migrator } from '../../migrations/migrator.js';
import type { Logger } from '../../src/log/index.js';
import { createMetrics, type Metrics } from '../../src/metrics/index.js';
import type { ConnectionDirectory, DeliveryTarget, UserEventHooks, WireFrame } from '../../src/delivery.js';
import { testConfig } from '../helpers/test-config.js';

/** A received frame, parsed, with the raw text kept to compare serialisations. */
export interface Received {
  id: number;
  raw: string;
  /** The frame as the bridge handed it over (text, or its bytes encoded once for all recipients). */
  wire: WireFrame;
  frame: { type: string; event: string; data: unknown; timestamp: number; event_id: number };
  replayed: boolean;
}

/**
 * A connection as the seam describes it, minus the socket: sends each id once (a late one too),
 * queues live frames during a replay and flushes the ones not replayed at its end.
 */
export class RecordingTarget implements DeliveryTarget {
  static next = 0;
  readonly id = `rec-${++RecordingTarget.next}`;
  readonly received: Received[] = [];
  folders: readonly number[] = [];
  readonly access = new Set<number>();
  kbSubscribed = false;
  closed: { code: number; reason: string } | undefined;
  private readonly sent = new Set<number>();
  private queue: Array<{ id: number; frame: WireFrame }> | undefined;

  constructor(
    readonly userId: number,
    readonly isAdmin = false,
  ) {}

  subscribe(folderId: number, accessible = true): this {
    if (!this.folders.includes(folderId)) this.folders = [...this.folders, folderId];
    if (accessible) this.access.add(folderId);
    return this;
  }

  isSubscribedToFolder(folderId: number): boolean {
    return this.folders.includes(folderId);
  }

  mayAccessFolder(folderId: number): boolean {
    return this.access.has(folderId);
  }

  deliver(eventId: number, frame: WireFrame): void {
    if (this.queue) {
      this.queue.push({ id: eventId, frame });
      return;
    }
    this.send(eventId, frame, false);
  }

  beginReplay(): void {
    this.queue = [];
  }

  deliverReplayed(eventId: number, frame: string): void {
    this.send(eventId, frame, true);
  }

  endReplay(): void {
    const queued = this.queue ?? [];
    this.queue = undefined;
    for (const q of queued) this.send(q.id, q.frame, false);
  }

  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }

  get isOpen(): boolean {
    return this.closed === undefined;
  }

  ids(): number[] {
    return this.received.map((r) => r.id);
  }

  events(): string[] {
    return this.received.map((r) => r.frame.event);
  }

  private send(id: number, wire: WireFrame, replayed: boolean): void {
    if (this.sent.has(id)) return;
    this.sent.add(id);
    const raw = wire.toString();
    this.received.push({ id, raw, wire, frame: JSON.parse(raw) as Received['frame'], replayed });
  }
}

export class TestDirectory implements ConnectionDirectory {
  readonly targets = new Set<RecordingTarget>();

  add(...targets: RecordingTarget[]): void {
    for (const t of targets) this.targets.add(t);
  }

  *byUser(userId: number): Iterable<DeliveryTarget> {
    for (const t of this.targets) if (t.userId === userId) yield t;
  }

  *folderSubscribers(folderId: number): Iterable<DeliveryTarget> {
    for (const t of this.targets) if (t.isSubscribedToFolder(folderId)) yield t;
  }

  *kbSubscribers(): Iterable<DeliveryTarget> {
    for (const t of this.targets) if (t.kbSubscribed) yield t;
  }

  *all(): Iterable<DeliveryTarget> {
    yield* this.targets;
  }
}

export interface HookCall {
  hook: 'folderPermissionChanged' | 'sessionExpired';
  userId: number;
  reason?: string;
  /** How many frames the user's targets had received when the hook ran. */
  framesBefore: number;
}

export class RecordingHooks implements UserEventHooks {
  readonly calls: HookCall[] = [];
  onPermissionChanged: (userId: number) => Promise<void> = async () => undefined;

  constructor(private readonly directory: TestDirectory) {}

  async folderPermissionChanged(userId: number): Promise<void> {
    this.calls.push({ hook: 'folderPermissionChanged', userId, framesBefore: this.framesOf(userId) });
    await this.onPermissionChanged(userId);
  }

  sessionExpired(userId: number, reason: string): void {
    this.calls.push({ hook: 'sessionExpired', userId, reason, framesBefore: this.framesOf(userId) });
    for (const t of this.directory.targets) if (t.userId === userId) t.close(4401, 'session expired');
  }

  private framesOf(userId: number): number {
    let n = 0;
    for (const t of this.directory.targets) if (t.userId === userId) n += t.received.length;
    return n;
  }
}

export interface LogLine {
  level: 'error' | 'warn' | 'info' | 'debug';
  message: string;
  meta?: Record<string, unknown>;
}

export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = (level: LogLine['level']) => (message: string, meta?: Record<string, unknown>) => {
    lines.push({ level, message, meta });
  };
  return { lines, error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug'), reopen: () => undefined, close: async () => undefined };
}

export interface EventInput {
  event_type: string;
  target_type: string;
  target_id?: number | null;
  payload?: unknown;
}

/** INSERTs as TeamPass's emitWebSocketEvent does; returns the new id. */
export async function insertEvent(db: Database, e: EventInput): Promise<number> {
  const row = {
    event_type: e.event_type,
    target_type: e.target_type,
    target_id: e.target_id ?? null,
    payload: typeof e.payload === 'string' ? e.payload : JSON.stringify(e.payload ?? { server_timestamp: Math.floor(Date.now() / 1000) }),
  };
  const ids = await db.knex(db.t.events).insert(row);
  if (db.client === 'mysql') return Number(ids[0]);
  return Number(ids[0]);
}

export interface BridgeHarness {
  bridge: EventBridge;
  directory: TestDirectory;
  hooks: RecordingHooks;
  logger: Logger & { lines: LogLine[] };
  metrics: Metrics;
  config: Config;
}

/** A bridge with its own directory, hooks, logger and metrics; started. */
export async function startBridge(db: Database, overrides: Partial<Config> = {}): Promise<BridgeHarness> {
  const directory = new TestDirectory();
  const hooks = new RecordingHooks(directory);
  const logger = recordingLogger();
  const metrics = createMetrics({ processMetrics: false });
  const config = testConfig(overrides);
  const bridge = createEventBridge({ db, config, logger, metrics, directory, hooks });
  await bridge.start();
  return { bridge, directory, hooks, logger, metrics, config };
}

export async function migrated(db: Database): Promise<Database> {
  await new Migrator(db).latest();
  return db;
}

export async function counterValue(metrics: Metrics, name: keyof Metrics, labels: Record<string, string> = {}): Promise<number> {
  const metric = metrics[name] as unknown as { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number> }> }> };
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((sum, v) => sum + v.value, 0);
}

export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
