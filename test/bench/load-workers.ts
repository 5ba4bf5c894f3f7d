import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from './children.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { AwaitResult, CloseResult, LatencyResult, OpenCommand, OpenResult, RetryReasons, StormResult, WorkerCommand, WorkerReply } from './load-messages.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Loopback source addresses the clients rotate over, so ephemeral ports never run out. */
export const LOCAL_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];

class Worker {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exitError: Error | undefined;

  constructor(
    readonly index: number,
    readonly child: ChildProcess,
  ) {
    child.on('message', (m: WorkerReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`load worker ${index}: ${m.message}`));
    });
    child.once('exit', (code, signal) => {
      this.exitError = new Error(`load worker ${index} exited (${signal ?? code})`);
      for (const p of this.pending.values()) p.reject(this.exitError);
      this.pending.clear();
    });
  }

  /** Resolves once the worker has loaded and said so. */
  ready(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`load worker ${this.index} did not start in ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(0, {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
    });
  }

  request<T>(command: WorkerCommand): Promise<T> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ ...command, id });
    });
  }
}

/**
 * Processes that hold the bench's many client connections, each a share of them. The server
 * under test and the bench process itself stay below the per-process open-file limit.
 */
export class LoadWorkers {
  private constructor(private readonly workers: Worker[]) {}

  static async start(count: number): Promise<LoadWorkers> {
    const workers = Array.from({ length: count }, (_, i) => {
      const child = track(fork(path.join(HERE, 'load-worker.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
      return new Worker(i, child);
    });
    const pool = new LoadWorkers(workers);
    try {
      await Promise.all(workers.map((w) => w.ready(30_000)));
    } catch (err) {
      pool.stop();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  /** Opens `total` connections spread evenly over the workers; says why any attempt was retried. */
  async open(total: number, base: Omit<OpenCommand, 'type' | 'first' | 'count'>): Promise<{ opened: number; retries: RetryReasons }> {
    const share = Math.ceil(total / this.workers.length);
    const results = await Promise.all(
      this.workers.map((w, i) => {
        const first = i * share;
        const count = Math.max(0, Math.min(share, total - first));
        return count === 0 ? Promise.resolve({ opened: 0, retries: {} }) : w.request<OpenResult>({ type: 'open', ...base, first, count });
      }),
    );
    return { opened: results.reduce((sum, r) => sum + r.opened, 0), retries: mergeReasons(results.map((r) => r.retries)) };
  }

  /** Every connection drops at once and comes back; when the last was back, and why any retried. */
  async storm(retryDelayMs: number, timeoutMs: number): Promise<{ ms: number; back: number; retries: RetryReasons }> {
    const results = await Promise.all(this.workers.map((w) => w.request<StormResult>({ type: 'storm', retryDelayMs, timeoutMs })));
    const dropped = Math.min(...results.map((r) => r.droppedAt));
    const ready = Math.max(...results.map((r) => r.readyAt));
    return { ms: ready - dropped, back: results.reduce((s, r) => s + r.back, 0), retries: mergeReasons(results.map((r) => r.retries)) };
  }

  /** Frames tagged `tag` are timed from now on, in every worker. */
  async latencyStart(tag: string): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ type: 'latency-start', tag })));
  }

  /** Deliveries timed so far, all workers together. */
  async latencyCount(): Promise<number> {
    const results = await Promise.all(this.workers.map((w) => w.request<LatencyResult>({ type: 'latency-read', stop: false })));
    return results.reduce((s, r) => s + r.deliveries, 0);
  }

  async latencyStop(): Promise<LatencyHistogram> {
    const results = await Promise.all(this.workers.map((w) => w.request<LatencyResult>({ type: 'latency-read', stop: true })));
    const histogram = new LatencyHistogram();
    for (const r of results) histogram.merge(r.buckets);
    return histogram;
  }

  /** Every worker watches for `marker` before anything that may carry it is sent. */
  async arm(marker: string): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ type: 'arm', marker })));
  }

  /** When the last connection of all had the armed marker's frame (wall clock, ms). */
  async lastArrival(marker: string, timeoutMs: number): Promise<number> {
    const results = await Promise.all(this.workers.map((w) => w.request<AwaitResult>({ type: 'await', marker, timeoutMs })));
    return Math.max(...results.map((r) => r.lastAt));
  }

  /** Sends each worker its own command (by worker index) and collects the answers in worker order. */
  each<T>(command: (index: number) => WorkerCommand): Promise<T[]> {
    return Promise.all(this.workers.map((w, i) => w.request<T>(command(i))));
  }

  async closeAll(): Promise<number> {
    const results = await Promise.all(this.workers.map((w) => w.request<CloseResult>({ type: 'close' })));
    return results.reduce((sum, r) => sum + r.closed, 0);
  }

  stop(): void {
    for (const w of this.workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  }
}

function mergeReasons(all: RetryReasons[]): RetryReasons {
  const out: RetryReasons = {};
  for (const r of all) for (const [why, n] of Object.entries(r)) out[why] = (out[why] ?? 0) + n;
  return out;
}
