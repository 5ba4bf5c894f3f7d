import dgram from 'node:dgram';
import { TeampassWsError } from '../errors.js';
import type { Logger } from '../log/index.js';

export interface WakeListener {
  /** The bound port (useful when 0 was asked for in tests). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A loopback UDP port: any datagram means "an event was just committed, poll now". The content
 * is ignored, so a lost or forged datagram costs one early poll at most; the poller coalesces
 * bursts into one poll plus one follow-up.
 */
export function startWakeListener(port: number, onWake: () => void, logger: Logger): Promise<WakeListener> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: 'udp4' });
    const onBindError = (err: NodeJS.ErrnoException) => {
      socket.close();
      reject(
        new TeampassWsError('IO', `Cannot listen for wake-up datagrams on 127.0.0.1:${port} (UDP): ${err.code ?? err.message}.`, {
          suggestion: err.code === 'EADDRINUSE' ? 'Another process uses this port: pick another wake_port (--wake-port), or 0 to turn wake-ups off.' : 'Check wake_port (--wake-port), or set it to 0 to turn wake-ups off.',
          cause: err,
        }),
      );
    };
    socket.once('error', onBindError);
    socket.on('message', () => onWake());
    socket.bind({ port, address: '127.0.0.1', exclusive: true }, () => {
      socket.off('error', onBindError);
      socket.on('error', (err) => logger.warn('Wake-up socket error', { error: err.message }));
      let closed: Promise<void> | undefined;
      resolve({
        port: socket.address().port,
        close: () => (closed ??= new Promise<void>((done) => socket.close(() => done()))),
      });
    });
  });
}
