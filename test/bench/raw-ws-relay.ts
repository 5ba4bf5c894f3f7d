/**
 * The baseline: a bare `ws` server in its own process that relays every message it gets to every
 * other client. Same loopback, same library, same process split as the daemon; no database.
 * Over IPC it answers `memory` with its process.memoryUsage().
 */
import { WebSocketServer, type WebSocket } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
const clients = new Set<WebSocket>();
wss.on('connection', (ws) => {
  clients.add(ws);
  ws.on('close', () => clients.delete(ws));
  ws.on('message', (data, isBinary) => {
    for (const c of clients) if (c !== ws) c.send(data, { binary: isBinary });
  });
});
wss.on('listening', () => {
  const address = wss.address();
  process.stdout.write(`${JSON.stringify({ port: address !== null && typeof address === 'object' ? address.port : 0 })}\n`);
});
process.on('message', (m) => {
  if (m === 'memory') process.send?.({ memory: process.memoryUsage() });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => {
  for (const c of clients) c.terminate();
  wss.close(() => process.exit(0));
});
