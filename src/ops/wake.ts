import dgram from 'node:dgram';

/**
 * What a producer sends to wake_port after its INSERT commits. The daemon only needs the
 * datagram to arrive, not its content; the text just makes it recognisable in a capture.
 */
export const WAKE_MESSAGE = 'teampass-ws:wake';

/** Sends one wake-up datagram to the loopback port. Losing it costs latency, never an event. */
export function sendWake(port: number, host = '127.0.0.1'): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', (err) => {
      socket.close();
      reject(err);
    });
    socket.send(WAKE_MESSAGE, port, host, (err) => {
      socket.close();
      if (err) reject(err);
      else resolve();
    });
  });
}
