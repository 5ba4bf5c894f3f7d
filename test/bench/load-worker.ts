/**
 * A load worker: a process of its own (forked by the bench) holding a share of the idle
 * connections (or of the soak's clients), since one process may hold only so many open files and the server under test must
 * not share its process with them. Commands arrive over IPC (load-messages.ts); the worker exits
 * as soon as the bench goes away.
 */
import WebSocket from 'ws';
import type { AwaitCommand, OpenCommand, WorkerReply, WorkerRequest } from './load-messages.js';
import { wallClockMs } from './load-messages.js';
import { SoakFleet } from './soak-clients.js';

interface Held {
  ws: WebSocket;
  /** The armed marker was seen on this connection. */
  reached: boolean;
}

const held: Held[] = [];
/** Connections that closed after they were ready, by close code. */
const lostByCode = new Map<number, number>();
let armed: { marker: string; pending: number; lastAt: number; done: Array<() => void> } | undefined;
/** The soak's clients (soak-clients.ts), when the soak drives this worker. */
const soak = new SoakFleet();

function reply(message: WorkerReply): void {
  process.send?.(message);
}

function lostSummary(): string {
  return [...lostByCode].map(([code, n]) => `${n} × ${code}`).join(', ');
}

function onFrame(h: Held, data: WebSocket.RawData): void {
  const at = wallClockMs();
  if (!armed || h.reached) return;
  if (!data.toString().includes(armed.marker)) return;
  h.reached = true;
  armed.lastAt = Math.max(armed.lastAt, at);
  armed.pending -= 1;
  if (armed.pending === 0) for (const done of armed.done.splice(0)) done();
}

/** One connection: upgrade, then (for the daemon) `connected`, then the folder subscription. */
function openOne(cmd: OpenCommand, index: number): Promise<Held> {
  return new Promise((resolve, reject) => {
    const token = cmd.tokens ? cmd.tokens[index % cmd.tokens.length]! : undefined;
    const url = token ? `${cmd.url}?token=${token}` : cmd.url;
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      localAddress: cmd.localAddresses[index % cmd.localAddresses.length],
      handshakeTimeout: cmd.timeoutMs,
    });
    const h: Held = { ws, reached: false };
    let ready = false;
    const fail = (why: string) => {
      if (ready) return;
      ready = true;
      ws.terminate();
      reject(new Error(`connection ${index}: ${why}`));
    };
    const isReady = () => {
      ready = true;
      ws.removeAllListeners('message');
      ws.on('message', (data) => onFrame(h, data));
      resolve(h);
    };
    ws.once('error', (err) => fail(err.message));
    ws.once('unexpected-response', (_req, res) => fail(`upgrade refused: HTTP ${res.statusCode}`));
    ws.once('close', (code, reason) => {
      if (!ready) return fail(`closed ${code} ${reason.toString()} before it was ready`);
      lostByCode.set(code, (lostByCode.get(code) ?? 0) + 1);
      if (armed && !h.reached) for (const done of armed.done.splice(0)) done();
    });
    ws.on('error', () => undefined);
    if (!cmd.tokens) {
      ws.once('open', isReady);
      return;
    }
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type?: string; action?: string; message?: string; error?: string };
      if (frame.type === 'connected') {
        if (cmd.folderId === null) return isReady();
        ws.send(JSON.stringify({ action: 'subscribe', channel: 'folder', data: { folder_id: cmd.folderId } }));
      } else if (frame.type === 'response' && frame.action === 'subscribed') {
        isReady();
      } else if (frame.type === 'error') {
        fail(`refused: ${frame.message ?? frame.error ?? data.toString()}`);
      }
    });
  });
}

async function open(cmd: OpenCommand): Promise<{ opened: number }> {
  let next = 0;
  let failure: Error | undefined;
  const timer = setTimeout(() => (failure ??= new Error(`only ${held.length} of ${cmd.count} connections ready after ${cmd.timeoutMs} ms`)), cmd.timeoutMs);
  const lane = async () => {
    while (next < cmd.count && !failure) {
      const index = cmd.first + next;
      next += 1;
      try {
        held.push(await openOne(cmd, index));
      } catch (err) {
        failure ??= err as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(cmd.concurrency, cmd.count) }, lane));
  clearTimeout(timer);
  if (failure) throw failure;
  return { opened: held.length };
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
  for (const h of held.splice(0)) {
    h.ws.removeAllListeners('close');
    h.ws.terminate();
  }
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
