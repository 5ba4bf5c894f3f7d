import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { track } from './children.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface Relay {
  child: ChildProcess;
  port: number;
  /** The relay's own process.memoryUsage(). */
  memory(): Promise<NodeJS.MemoryUsage>;
  stop(): Promise<void>;
}

/** Starts raw-ws-relay.ts as its own process. */
export function startRelay(): Promise<Relay> {
  const child = track(spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'raw-ws-relay.ts')], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] }));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const memory = () =>
    new Promise<NodeJS.MemoryUsage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the relay did not report its memory in 10 s')), 10_000);
      child.once('message', (m: { memory: NodeJS.MemoryUsage }) => {
        clearTimeout(timer);
        resolve(m.memory);
      });
      child.send('memory');
    });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`relay exited (${code})`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, port: (JSON.parse(line) as { port: number }).port, memory, stop }));
  });
}
