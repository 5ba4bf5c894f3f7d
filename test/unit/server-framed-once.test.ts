import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { ClientSocket, DaemonWebSocket, framedOnce, textFrameBytes, type ClientSocketEvents } from '../../src/server/client-socket.js';

/** A loopback server whose connections are ClientSockets as the daemon makes them (transport set, deflate off). */
async function socketPair(maxBufferedBytes = 1 << 20) {
  const http1 = http.createServer();
  const wss = new WebSocketServer<typeof DaemonWebSocket>({ noServer: true, WebSocket: DaemonWebSocket, perMessageDeflate: false });
  const slow: string[] = [];
  const events: ClientSocketEvents = { message() {}, socketError() {}, closed() {}, slowConsumer: () => slow.push('slow') };
  const accepted = new Promise<{ server: ClientSocket; ws: DaemonWebSocket }>((resolve) => {
    http1.on('upgrade', (req, socket: Duplex, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.transport = socket;
        resolve({ server: new ClientSocket(ws, { ip: '127.0.0.1', userAgent: '', viaTrustedProxy: false }, { maxBufferedBytes, closeGraceMs: 1000 }, events), ws });
      }),
    );
  });
  await new Promise<void>((resolve) => http1.listen(0, '127.0.0.1', resolve));
  const { port } = http1.address() as AddressInfo;
  const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  const received: Array<{ text: string; binary: boolean }> = [];
  client.on('message', (data, isBinary) => received.push({ text: data.toString(), binary: isBinary }));
  await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
  const { server, ws } = await accepted;
  const stop = async () => {
    client.terminate();
    ws.terminate();
    await new Promise((resolve) => http1.close(resolve));
  };
  return { server, ws, client, received, slow, stop };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('event frames framed once for all their recipients', () => {
  it('reuses one event’s wire bytes for every recipient and frames the next event anew', () => {
    const first = Buffer.from('{"type":"event","event_id":1}');
    const second = Buffer.from('{"type":"event","event_id":2}');
    const a = framedOnce(first);
    expect(framedOnce(first), 'the second recipient of the same event').to.equal(a);
    const b = framedOnce(second);
    expect(b).to.not.equal(a);
    expect(b.subarray(2).toString()).to.equal(second.toString());
    // The same bytes in another Buffer are another event's frame: framed again, never confused.
    expect(framedOnce(Buffer.from(first))).to.not.equal(a);
  });

  it('writes RFC 6455 headers for every payload length class (7-bit, 16-bit, 64-bit)', () => {
    expect([...textFrameBytes(Buffer.alloc(0))]).to.deep.equal([0x81, 0]);
    expect([...textFrameBytes(Buffer.alloc(125)).subarray(0, 2)]).to.deep.equal([0x81, 125]);
    expect([...textFrameBytes(Buffer.alloc(126)).subarray(0, 4)]).to.deep.equal([0x81, 126, 0, 126]);
    expect([...textFrameBytes(Buffer.alloc(65_535)).subarray(0, 4)]).to.deep.equal([0x81, 126, 0xff, 0xff]);
    expect([...textFrameBytes(Buffer.alloc(65_536)).subarray(0, 10)]).to.deep.equal([0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
    expect(textFrameBytes(Buffer.alloc(70_000)).length).to.equal(70_010);
  });

  it('reaches a ws client as text messages, in order with the frames ws sends itself, at every length', async () => {
    const pair = await socketPair();
    try {
      const sizes = [0, 1, 125, 126, 127, 65_535, 65_536, 200_000];
      const expected: string[] = [];
      for (const [i, size] of sizes.entries()) {
        // Exactly `size` bytes, UTF-8 beyond ASCII where there is room.
        const head = `${i}é`;
        const text = size < Buffer.byteLength(head) ? 'x'.repeat(size) : head + 'x'.repeat(size - Buffer.byteLength(head));
        const payload = Buffer.from(text);
        expect(payload.length).to.equal(size);
        pair.server.send(payload); // an event's bytes: written pre-framed
        pair.server.send(payload); // its second recipient would get the same bytes
        pair.server.send(`reply ${i}`); // a protocol frame: sent by ws
        expected.push(text, text, `reply ${i}`);
      }
      await until(() => pair.received.length === expected.length, `${expected.length} messages`);
      expect(pair.received.map((m) => m.text)).to.deep.equal(expected);
      expect(pair.received.every((m) => !m.binary), 'all text frames').to.equal(true);
    } finally {
      await pair.stop();
    }
  });

  it('counts bytes written pre-framed against max_buffered_bytes: a client that stops reading is closed as a slow consumer', async () => {
    const pair = await socketPair(256 * 1024);
    try {
      // The client stops reading: the kernel's buffers fill, then the daemon's side of the socket.
      (pair.client as unknown as { _socket: Duplex })._socket.pause();
      const payload = Buffer.from(`{"type":"event","data":"${'x'.repeat(16 * 1024)}"}`);
      for (let i = 0; i < 2000 && pair.slow.length === 0; i += 1) {
        pair.server.send(payload);
        if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(pair.slow, 'slow consumer close').to.deep.equal(['slow']);
      expect(pair.server.isOpen).to.equal(false);
    } finally {
      await pair.stop();
    }
  });
});
