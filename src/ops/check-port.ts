import net from 'node:net';
import { HEALTH_SERVICE_NAME, type HealthBody } from '../server/healthz.js';
import { skipped, type CheckDef } from './check-types.js';

/** Tries to listen where the daemon would; resolves with the error code, or undefined when free. */
function tryListen(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Where to reach a daemon listening on `host` (a wildcard address is reached on loopback). */
export function probeUrl(host: string, port: number, pathname: string): string {
  const reach = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reach.includes(':') ? `[${reach}]` : reach}:${port}${pathname}`;
}

export type PortHolder =
  | { kind: 'teampass-ws'; status: number; body: HealthBody }
  | { kind: 'other'; detail: string };

/** Asks whoever holds the port for /healthz; only teampass-ws answers with its service name. */
export async function identifyHolder(host: string, port: number, timeoutMs = 3000): Promise<PortHolder> {
  try {
    const res = await fetch(probeUrl(host, port, '/healthz'), { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { kind: 'other', detail: `it answers HTTP ${res.status} on /healthz, not as teampass-ws` };
    }
    if (body && typeof body === 'object' && (body as { service?: unknown }).service === HEALTH_SERVICE_NAME) {
      return { kind: 'teampass-ws', status: res.status, body: body as HealthBody };
    }
    return { kind: 'other', detail: `it answers HTTP ${res.status} on /healthz, not as teampass-ws` };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    return { kind: 'other', detail: `it does not answer HTTP (${cause === 'TimeoutError' ? 'no answer' : cause})` };
  }
}

export function portCheck(): CheckDef {
  return {
    id: 'port',
    title: 'Listening port',
    async run(state) {
      if (!state.loaded) return skipped('the configuration is invalid');
      const { host, port } = state.loaded.config;
      const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      const code = await tryListen(host, port);
      if (code === undefined) return { status: 'ok', detail: `${where} is free` };
      if (code === 'EACCES') {
        return {
          status: 'error',
          detail: `${where}: ports below 1024 need privileges`,
          fix: 'Use a port above 1024 behind the reverse proxy (templates/nginx.conf), or run under systemd (install-systemd grants CAP_NET_BIND_SERVICE).',
        };
      }
      if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
        return { status: 'error', detail: `${host} is not an address of this machine (${code})`, fix: 'Set host to 127.0.0.1 (behind a proxy on this machine), 0.0.0.0, or one of this machine\'s addresses.' };
      }
      if (code !== 'EADDRINUSE') return { status: 'error', detail: `cannot listen on ${where}: ${code}`, fix: 'Check host and port.' };
      const holder = await identifyHolder(host, port);
      if (holder.kind === 'teampass-ws') {
        const b = holder.body;
        const detail = `${where} is held by a running teampass-ws ${b.version} (${b.status}, ${b.connections} connection${b.connections === 1 ? '' : 's'})`;
        if (holder.status === 200) return { status: 'ok', detail };
        return {
          status: 'warning',
          detail: `${detail}: ${b.problems.join('; ')}`,
          fix: 'See its log: teampass-ws tail-logs --level warn (or journalctl -u teampass-websocket).',
        };
      }
      return {
        status: 'error',
        detail: `${where} is taken by another program: ${holder.detail}`,
        fix: `Find it with \`ss -ltnp 'sport = :${port}'\` and stop it (TeamPass's PHP daemon: systemctl stop teampass-websocket), or choose another port (--port, and websocket_port in TeamPass).`,
      };
    },
  };
}
