/**
 * A load worker: a process of its own (forked by the bench) holding a share of the idle
 * connections (or of the soak's clients), since one process may hold only so many open files and the server under test must
 * not share its process with them. Commands arrive over IPC (load-messages.ts); the worker exits
 * as soon as the bench goes away.
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { LatencyHistogram } from './latency-histogram.js';
import type { AwaitCommand, OpenCommand, RetryReasons, StormCommand, WorkerReply, WorkerRequest } from './load-messages.js';
import { foldersOf, wallClockMs } from './load-messages.js';
import { SoakFleet } from './soak-clients.js';

interface Held {
  ws: WebSocket;
  /** Its TCP socket, to end it with a reset (drop). */
  socket: Socket | null;
  index: number;
  /** The token it connects with next: the first, then each `connected`'s reconnect_token. */
  token: string | undefined;
  /** The armed marker was seen on this connection. */
  reached: boolean;
}

const held: Held[] = [];
/** How the connections of the last `open` are made (the storm makes them again the same way). */
let openedWith: OpenCommand | undefined;
/** Connections that closed after they were ready, by close code. */
const lostByCode = new Map<number, number>();
let armed: { marker: string; pending: number; lastAt: number; done: Array<() => void> } | undefined;
let timing: { needle: string; histogram: LatencyHistogram } | undefined;
/** The soak's clients (soak-clients.ts), when the soak drives this worker. */
const soak = new SoakFleet();

function reply(message: WorkerReply): void {
  process.send?.(message);
}

function lostSummary(): string {
  return [...lostByCode].map(([code, n]) => `${n} × ${code}`).join(', ');
}

/**
 * Ends a held connection with a TCP reset rather than a FIN: the worker's end of a connection it
 * closes first would otherwise stay in TIME_WAIT for a minute, and with tens of thousands of
 * those every later connect() from the same source addresses (this round's storm, the next
 * round, the next target) spends its CPU in the kernel searching for a free port. That cost
 * fell on whichever target came second and swamped the server's own.
 */
function drop(h: Held): void {
  h.ws.removeAllListeners('close');
  if (h.socket && !h.socket.destroyed) h.socket.resetAndDestroy();
  h.ws.terminate();
}

function onFrame(h: Held, data: WebSocket.RawData): void {
  const at = wallClockMs();
  if (!armed && !timing) return;
  const text = data.toString();
  if (timing) {
    const i = text.indexOf(timing.needle);
    if (i >= 0) timing.histogram.add(at - parseFloat(text.slice(i + timing.needle.length, i + timing.needle.length + 24)));
  }
  if (!armed || h.reached) return;
  if (!text.includes(armed.marker)) return;
  h.reached = true;
  armed.lastAt = Math.max(armed.lastAt, at);
  armed.pending -= 1;
  if (armed.pending === 0) for (const done of armed.done.splice(0)) done();
}

/** An attempt that failed, with the short reason the bench counts retries by. */
class AttemptFailed extends Error {}

/** One attempt: upgrade, then (for the daemon) `connected`, then every folder subscription answered. */
function attempt(cmd: OpenCommand, h: Held): Promise<void> {
  return new Promise((resolve, reject) => {
    const url = h.token ? `${cmd.url}?token=${h.token}` : cmd.url;
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      localAddress: cmd.localAddresses[h.index % cmd.localAddresses.length],
      handshakeTimeout: cmd.timeoutMs,
    });
    let ready = false;
    let socket: Socket | null = null;
    ws.once('upgrade', (res) => {
      socket = res.socket;
    });
    const fail = (why: string) => {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      ws.removeAllListeners('close');
      ws.terminate();
      reject(new AttemptFailed(why));
    };
    const timer = setTimeout(() => fail('not subscribed in time'), cmd.timeoutMs);
    const isReady = () => {
      ready = true;
      clearTimeout(timer);
      h.ws = ws;
      h.socket = socket;
      ws.removeAllListeners('message');
      ws.on('message', (data) => onFrame(h, data));
      resolve();
    };
    ws.once('error', (err) => fail(`socket error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    ws.once('unexpected-response', (_req, res) => fail(`upgrade refused: HTTP ${res.statusCode}`));
    ws.once('close', (code) => {
      if (!ready) return fail(`closed ${code} before it was subscribed`);
      lostByCode.set(code, (lostByCode.get(code) ?? 0) + 1);
      if (armed && !h.reached) for (const done of armed.done.splice(0)) done();
    });
    ws.on('error', () => undefined);
    const folders = foldersOf(cmd.folderIds, cmd.subscriptions, h.index);
    let unanswered = folders.length;
    const subscribeAll = () => {
      if (unanswered === 0) return isReady();
      for (const folderId of folders) ws.send(JSON.stringify({ action: 'subscribe', channel: 'folder', data: { folder_id: folderId } }));
    };
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type?: string; action?: string; message?: string; error_code?: string; error?: string; reconnect_token?: string };
      if (frame.type === 'connected') {
        if (frame.reconnect_token) h.token = frame.reconnect_token;
        subscribeAll();
      } else if (frame.type === 'response' && frame.action === 'subscribed') {
        unanswered -= 1;
        if (unanswered === 0) isReady();
      } else if (frame.type === 'error') {
        fail(`refused: ${frame.error_code ?? frame.error ?? frame.message ?? 'error frame'}`);
      }
    });
  });
}

/** Tries until connected and subscribed (or the time is up); counts each failed attempt by reason. */
async function connect(cmd: OpenCommand, h: Held, retries: RetryReasons, retryDelayMs: number, deadline: number): Promise<void> {
  for (;;) {
    try {
      return await attempt(cmd, h);
    } catch (err) {
      if (!(err instanceof AttemptFailed)) throw err;
      retries[err.message] = (retries[err.message] ?? 0) + 1;
      if (Date.now() + retryDelayMs > deadline) throw new Error(`connection ${h.index}: ${err.message}, and no time left to retry`);
      await new Promise((r) => setTimeout(r, retryDelayMs * (0.5 + Math.random())));
    }
  }
}

const RETRY_DELAY_MS = 250;

async function open(cmd: OpenCommand): Promise<{ opened: number; retries: RetryReasons }> {
  openedWith = cmd;
  const retries: RetryReasons = {};
  const deadline = Date.now() + cmd.timeoutMs;
  let next = 0;
  const lane = async () => {
    while (next < cmd.count) {
      const index = cmd.first + next;
      next += 1;
      const h: Held = { ws: undefined as unknown as WebSocket, socket: null, index, token: cmd.tokens ? cmd.tokens[index % cmd.tokens.length]! : undefined, reached: false };
      await connect(cmd, h, retries, RETRY_DELAY_MS, deadline);
      held.push(h);
    }
  };
  await Promise.all(Array.from({ length: Math.min(cmd.concurrency, cmd.count) }, lane));
  return { opened: held.length, retries };
}

async function storm(cmd: StormCommand): Promise<{ droppedAt: number; readyAt: number; back: number; retries: RetryReasons }> {
  const how = openedWith;
  if (!how) throw new Error('storm before open');
  if (lostByCode.size > 0) throw new Error(`connections were closed before the storm: ${lostSummary()}`);
  const retries: RetryReasons = {};
  armed = undefined;
  const droppedAt = wallClockMs();
  for (const h of held) drop(h);
  const deadline = Date.now() + cmd.timeoutMs;
  let readyAt = droppedAt;
  await Promise.all(
    held.map(async (h) => {
      await connect(how, h, retries, cmd.retryDelayMs, deadline);
      readyAt = Math.max(readyAt, wallClockMs());
    }),
  );
  return { droppedAt, readyAt, back: held.length, retries };
}

function latencyRead(stop: boolean): { buckets: Array<[number, number]>; deliveries: number } {
  const t = timing;
  if (stop) timing = undefined;
  if (!t) throw new Error('latency-read before latency-start');
  if (!stop) return { buckets: [], deliveries: t.histogram.total };
  return { buckets: t.histogram.entries(), deliveries: t.histogram.total };
}

function arm(marker: string): void {
  if (lostByCode.size > 0) throw new Error(`connections were closed: ${lostSummary()}`);
  for (const h of held) h.reached = false;
  armed = { marker, pending: held.length, lastAt: 0, done: [] };
}

function awaitMarker(cmd: AwaitCommand): Promise<{ lastAt: number }> {
  const current = armed;
  if (!current || current.marker !== cmd.marker) return Promise.reject(new Error(`${cmd.marker} was not armed`));
  return new Promise((resolve, reject) => {
    const settle = () => {
      clearTimeout(timer);
      if (current.pending === 0) resolve({ lastAt: current.lastAt });
      else reject(new Error(`${current.pending} of ${held.length} connections never had ${cmd.marker}${lostByCode.size > 0 ? `; closed: ${lostSummary()}` : ''}`));
    };
    const timer = setTimeout(settle, cmd.timeoutMs);
    if (current.pending === 0 || lostByCode.size > 0) settle();
    else current.done.push(settle);
  });
}

function closeAll(): { closed: number } {
  const closed = held.length + soak.closeAll();
  armed = undefined;
  for (const h of held.splice(0)) drop(h);
  lostByCode.clear();
  return { closed };
}

async function handle(cmd: WorkerRequest): Promise<unknown> {
  switch (cmd.type) {
    case 'open':
      return open(cmd);
    case 'arm':
      return arm(cmd.marker);
    case 'await':
      return awaitMarker(cmd);
    case 'close':
      return closeAll();
    case 'storm':
      return storm(cmd);
    case 'latency-start':
      timing = { needle: `"tag":"${cmd.tag}","sent":`, histogram: new LatencyHistogram() };
      return null;
    case 'latency-read':
      return latencyRead(cmd.stop);
    case 'soak-open':
      return soak.open(cmd);
    case 'soak-quiesce':
      return soak.quiesce(cmd);
    case 'soak-await':
      return soak.awaitEvent(cmd);
    case 'soak-progress':
      return soak.progress();
    case 'soak-tally':
      return soak.tally(cmd.events);
  }
}

process.on('message', (cmd: WorkerRequest) => {
  handle(cmd).then(
    (result) => reply({ id: cmd.id, ok: true, result: result ?? null }),
    (err: Error) => reply({ id: cmd.id, ok: false, message: err.message }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0, ok: true, result: 'ready' });
