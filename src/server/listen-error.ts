import net from 'node:net';
import { TeampassWsError } from '../errors.js';

/** Why the daemon cannot listen, said as an admin can act on it. */
export function listenError(err: NodeJS.ErrnoException, host: string, port: number): TeampassWsError {
  if (err.code === 'EADDRINUSE') {
    return new TeampassWsError('IO', `Port ${port} on ${host} is already in use.`, {
      suggestion: 'Stop the other daemon (TeamPass\'s PHP one: systemctl stop teampass-websocket) or choose another --port.',
      cause: err,
    });
  }
  if (err.code === 'EACCES') {
    return new TeampassWsError('IO', `Not allowed to listen on ${host}:${port}.`, { suggestion: 'Use a port above 1023, or give the service the capability to bind it.', cause: err });
  }
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') {
    return new TeampassWsError('IO', `Cannot listen on ${host}: no such local address.`, { suggestion: 'Set --host to an address of this machine, e.g. 127.0.0.1 or 0.0.0.0.', cause: err });
  }
  return new TeampassWsError('IO', `Cannot listen on ${host}:${port}: ${err.message}`, { cause: err });
}

/**
 * Fails at once, with the same error as listen(), when host:port cannot be bound: serve asks
 * before it opens the database, prepares anything or logs a line, so a second daemon started by
 * mistake says only that. The real listen() still reports a port taken in between.
 */
export function assertCanListen(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, host, port)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
