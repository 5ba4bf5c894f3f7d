import type { ChildProcess } from 'node:child_process';

/**
 * Every process the bench starts (daemons, baseline servers, load workers) is registered here, so
 * a failure, an interrupt or a plain exit never leaves one behind holding thousands of sockets.
 */
const children = new Set<ChildProcess>();

export function killChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

process.once('exit', killChildren);

export function track<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
