import { performance } from 'node:perf_hooks';

/** What the bench process and its load workers (load-worker.ts) say to each other over IPC. */

export interface OpenCommand {
  type: 'open';
  /** ws://host:port/path; a token is appended as ?token= when `tokens` is given. */
  url: string;
  /** Websocket tokens, used round-robin by global connection index; null for a plain server. */
  tokens: string[] | null;
  /** Folder each connection subscribes to after `connected`; null: none. */
  folderId: number | null;
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

export type WorkerCommand = OpenCommand | ArmCommand | AwaitCommand | CloseCommand;

export interface OpenResult {
  opened: number;
}

export interface AwaitResult {
  /** performance.timeOrigin + performance.now() when the last connection had the frame. */
  lastAt: number;
}

export interface CloseResult {
  closed: number;
}

export type WorkerRequest = WorkerCommand & { id: number };

export type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; message: string };

/** Wall-clock milliseconds with sub-millisecond resolution that two processes on one machine agree on. */
export const wallClockMs = () => performance.timeOrigin + performance.now();
