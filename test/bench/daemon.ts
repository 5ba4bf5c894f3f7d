import { setTimeout as sleep } from 'node:timers/promises';
import { startCli, type RunningCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mariadb.js';
import { freeUdpPort } from '../integration/bridge-recorder.js';
import { track } from './children.js';

export interface BenchDaemon {
  cli: RunningCli;
  pid: number;
  port: number;
  wakePort: number;
}

async function waitHealthy(port: number, daemon: RunningCli): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (daemon.child.exitCode !== null) throw new Error(`serve exited (${daemon.child.exitCode}):\n${daemon.output()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`serve did not become healthy in 30 s:\n${daemon.output()}`);
    await sleep(100);
  }
}

/** `teampass-ws serve` as its own process on loopback, with the wake-up port on; resolves when healthy. */
export async function startDaemon(dbUrl: string, extra: string[] = []): Promise<BenchDaemon> {
  const port = await freePort();
  const wakePort = await freeUdpPort();
  const cli = startCli(['serve', '--db', dbUrl, '--host', '127.0.0.1', '--port', String(port), '--wake-port', String(wakePort), '--log-level', 'warn', ...extra]);
  track(cli.child);
  try {
    await waitHealthy(port, cli);
    // /healthz answers once the first worker listens; the round starts when all of them do.
    const workers = Number(extra[extra.indexOf('--workers') + 1]);
    if (extra.includes('--workers') && workers > 1) await cli.waitFor(/workers listening on one port/, 60_000);
  } catch (err) {
    await cli.stop();
    throw err;
  }
  return { cli, pid: cli.child.pid!, port, wakePort };
}
