import { performance } from 'node:perf_hooks';

/** What the bench process and its load workers (load-worker.ts) say to each other over IPC. */

export interface OpenCommand {
  type: 'open';
  /** ws://host:port/path; a token is appended as ?token= when `tokens` is given. */
  url: string;
  /** Websocket tokens, used round-robin by global connection index; null for a plain server. */
  tokens: string[] | null;
  /** Folders the connections subscribe to after `connected`: connection i takes `subscriptions` of them, spread evenly. */
  folderIds: number[];
  subscriptions: number;
  /** Global index of this worker's first connection (token choice and source address). */
  first: number;
  count: number;
  /** Source addresses rotated over the connections, so no single one runs out of ports. */
  localAddresses: string[];
  /** Handshakes in flight at once. */
  concurrency: number;
  timeoutMs: number;
}

/** Starts watching for a frame containing `marker` on every connection. */
export interface ArmCommand {
  type: 'arm';
  marker: string;
}

/** Resolves when every connection has had the armed marker's frame. */
export interface AwaitCommand {
  type: 'await';
  marker: string;
  timeoutMs: number;
}

export interface CloseCommand {
  type: 'close';
}

/**
 * Every held connection drops at once and comes straight back (with the reconnect_token of its
 * last `connected`, as TeamPass's client does), all attempts in flight together; an attempt that
 * fails is retried after `retryDelayMs` and its reason counted.
 */
export interface StormCommand {
  type: 'storm';
  retryDelayMs: number;
  timeoutMs: number;
}

/** From now on, frames carrying `"tag":"<tag>","sent":<wall clock ms>` are timed on arrival. */
export interface LatencyStartCommand {
  type: 'latency-start';
  tag: string;
}

/** Stops timing (`stop`) or not, and answers with what was recorded so far. */
export interface LatencyStopCommand {
  type: 'latency-read';
  stop: boolean;
}

export type WorkerCommand = OpenCommand | ArmCommand | AwaitCommand | CloseCommand | StormCommand | LatencyStartCommand | LatencyStopCommand | SoakCommand;

/** Why connection attempts failed and were tried again: reason → attempts. */
export type RetryReasons = Record<string, number>;

export interface OpenResult {
  opened: number;
  retries: RetryReasons;
}

export interface StormResult {
  /** Wall clock when the connections were dropped, and when the last one was back and subscribed. */
  droppedAt: number;
  readyAt: number;
  back: number;
  retries: RetryReasons;
}

/** Delivery latencies (send → arrival, ms) as a log-scale histogram: bucket → count (see latency-histogram.ts). */
export interface LatencyResult {
  buckets: Array<[number, number]>;
  deliveries: number;
}

export interface AwaitResult {
  /** performance.timeOrigin + performance.now() when the last connection had the frame. */
  lastAt: number;
}

export interface CloseResult {
  closed: number;
}

/** A user of the soak: the token its clients connect with and the one folder they subscribe to. */
export interface SoakUser {
  id: number;
  token: string;
  folderId: number;
}

/**
 * Opens this worker's share of the soak's counted clients (global indices first … first+count-1;
 * client i is users[i % users.length]) with ?since=`sinceId`, then starts churn and slow consumers.
 */
export interface SoakOpenCommand {
  type: 'soak-open';
  url: string;
  users: SoakUser[];
  first: number;
  count: number;
  /** Every counted client must get every event it may see with a higher id, once. */
  sinceId: number;
  localAddresses: string[];
  concurrency: number;
  timeoutMs: number;
  /** Every churnEveryMs, this many of the worker's counted clients close and reconnect with ?since=. */
  churnEveryMs: number;
  churnCount: number;
  /** Slow consumers this worker keeps open at once, each as one of `slowUsers` (whose folder gets large events). */
  slowConsumers: number;
  slowUsers: SoakUser[];
  /** How long a slow consumer stops reading before it reads again to learn how it was closed. */
  slowPauseMs: number;
}

/** Stops churn and slow consumers; resolves when every counted client is connected and subscribed again. */
export interface SoakQuiesceCommand {
  type: 'soak-quiesce';
  timeoutMs: number;
}

/** Resolves when every counted client has had an event with id ≥ eventId (or the time is up). */
export interface SoakAwaitCommand {
  type: 'soak-await';
  eventId: number;
  timeoutMs: number;
}

/** Routing of one event the soak inserted: who may see it. */
export interface SoakEvent {
  id: number;
  target: 'broadcast' | 'folder' | 'user';
  targetId: number;
}

/** Compares what every counted client received with what it had to receive. */
export interface SoakTallyCommand {
  type: 'soak-tally';
  events: SoakEvent[];
}

export interface SoakProgressCommand {
  type: 'soak-progress';
}

export type SoakCommand = SoakOpenCommand | SoakQuiesceCommand | SoakAwaitCommand | SoakTallyCommand | SoakProgressCommand;

export interface SoakProgress {
  /** Counted clients connected and subscribed right now. */
  live: number;
  eventFrames: number;
  reconnects: number;
  /** Reconnect attempts that failed (retried). */
  reconnectFailures: number;
  /** Those failures by reason: "HTTP 503", "error frame max_connections", "closed 1011 before subscribed", … */
  failureReasons: Record<string, number>;
  /** Slow consumers' closes as they saw them, by close code (0: still open when they read again). */
  slowCloses: Record<string, number>;
  /**
   * Slow consumers still paused when the soak stopped them: the daemon may have closed them
   * already (its counter has those), they had not read it yet.
   */
  slowUnread: number;
  /** Counted clients closed by the daemon, by close code (they reconnect with ?since=). */
  serverCloses: Record<string, number>;
}

export interface SoakTally extends SoakProgress {
  clients: number;
  /** Sum over clients of the events each had to receive. */
  expected: number;
  /** Of those, the ones that arrived (counted once per client and event id). */
  delivered: number;
  lost: number;
  /** Frames carrying an event id the client already had. */
  duplicates: number;
  /** Events a client received that it may not see (another folder, another user). */
  unexpected: number;
  /** Frames whose event id was lower than one the client had before. */
  outOfOrder: number;
  /** Connections whose recovery said `recovered: false`. */
  notRecovered: number;
  /** A few clients with losses: "client 17 (user 5, folder 3): 2 lost, first id 812". */
  examples: string[];
}

export type WorkerRequest = WorkerCommand & { id: number };

export type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; message: string };

/** Wall-clock milliseconds with sub-millisecond resolution that two processes on one machine agree on. */
export const wallClockMs = () => performance.timeOrigin + performance.now();

/** The folders connection `index` subscribes to: `subscriptions` of them, spread evenly over the list. */
export function foldersOf(folderIds: readonly number[], subscriptions: number, index: number): number[] {
  const n = folderIds.length;
  if (n === 0) return [];
  const stride = Math.max(1, Math.floor(n / subscriptions));
  return Array.from({ length: Math.min(subscriptions, n) }, (_, k) => folderIds[(index + k * stride) % n]!);
}
