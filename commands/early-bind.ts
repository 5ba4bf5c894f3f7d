/**
 * `serve` binds its port before the rest of the program is loaded: TeamPass's admin panel runs
 * `systemctl start teampass-websocket` and checks the port half a second later, while loading
 * the database drivers and the rest takes longer than that on a busy machine. Only the light
 * configuration loader runs first. Whatever goes wrong here (a bad value, a port in use) is left
 * to the normal start, which reports it properly.
 */
import { loadConfig } from '../src/config/load.js';
import { handshakeLimits, PortGate } from '../src/server/port-gate.js';
import { supervisesWorkers } from './serve-workers.js';

/** The value of `--name value` or `--name=value` in `args`. */
function flagValue(args: string[], ...names: string[]): string | undefined {
  for (let i = 0; i < args.length; i += 1) {
    for (const name of names) {
      if (args[i] === name) return args[i + 1];
      if (args[i]!.startsWith(`${name}=`)) return args[i]!.slice(name.length + 1);
    }
  }
  return undefined;
}

export async function bindServePortEarly(argv: string[]): Promise<PortGate | undefined> {
  const args = argv.slice(2);
  if (args[0] !== 'serve' || args.some((a) => a === '-h' || a === '--help')) return undefined;
  let gate: PortGate | undefined;
  try {
    const host = flagValue(args, '--host');
    const port = flagValue(args, '--port');
    const workers = flagValue(args, '--workers');
    const { config } = await loadConfig({
      flags: { ...(host === undefined ? {} : { host }), ...(port === undefined ? {} : { port }), ...(workers === undefined ? {} : { workers }) },
      configPath: flagValue(args, '--config', '-c'),
    });
    // With workers, the port belongs to the listening socket node:cluster shares among them,
    // which the primary opens when the first worker listens: a socket of the primary's own
    // would take the port from them (and closing it first would refuse connections meanwhile).
    // Each worker binds early through that shared socket instead.
    if (supervisesWorkers(config.workers)) return undefined;
    gate = new PortGate(handshakeLimits(config));
    await gate.listen(config.host, config.port);
    return gate;
  } catch {
    await gate?.close();
    return undefined;
  }
}
