/**
 * The baseline: a bare `ws` server in its own process doing the daemon's fan-out with nothing
 * else — no authentication, database, access check or rate limit. A client gets
 * `{"type":"connected"}` and may subscribe to folders (answered like the daemon does); a client on
 * /produce sends `{"folder_id":…,"frame":"…"}` (or `"broadcast":true`) and the frame goes, built
 * once, to that folder's subscribers (or to everyone). Over IPC it answers `memory` with its
 * process.memoryUsage().
 * It listens with the daemon's listen backlog; its HTTP timeouts are Node's defaults (a bare
 * server has no slowloris defence).
 */
import http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { LISTEN_BACKLOG } from '../../src/server/port-gate.js';

const server = http.createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false });
const clients = new Set<WebSocket>();
const byFolder = new Map<number, Set<WebSocket>>();
const CONNECTED = Buffer.from('{"type":"connected"}');

interface Produce {
  folder_id?: number;
  broadcast?: boolean;
  frame: string;
}

interface Subscribe {
  action?: string;
  data?: { folder_id?: number };
}

function fanOut(m: Produce): void {
  const frame = Buffer.from(m.frame);
  const to = m.broadcast ? clients : (byFolder.get(m.folder_id ?? -1) ?? []);
  for (const c of to) c.send(frame, { binary: false });
}

wss.on('connection', (ws, req) => {
  if (req.url === '/produce') {
    ws.on('message', (data) => fanOut(JSON.parse(data.toString()) as Produce));
    return;
  }
  clients.add(ws);
  const mine = new Set<number>();
  ws.on('close', () => {
    clients.delete(ws);
    for (const f of mine) byFolder.get(f)?.delete(ws);
  });
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString()) as Subscribe;
    const folderId = m.data?.folder_id;
    if (m.action !== 'subscribe' || typeof folderId !== 'number') return;
    mine.add(folderId);
    let set = byFolder.get(folderId);
    if (!set) byFolder.set(folderId, (set = new Set()));
    set.add(ws);
    ws.send(JSON.stringify({ type: 'response', action: 'subscribed', channel: 'folder', folder_id: folderId }));
  });
  ws.send(CONNECTED, { binary: false });
});
server.listen({ host: '127.0.0.1', port: 0, backlog: LISTEN_BACKLOG }, () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: address !== null && typeof address === 'object' ? address.port : 0 })}\n`);
});
process.on('message', (m) => {
  if (m === 'memory') process.send?.({ memory: process.memoryUsage() });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => {
  for (const c of clients) c.terminate();
  wss.close(() => server.close(() => process.exit(0)));
});
