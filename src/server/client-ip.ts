import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/** IPv4 peers on a dual-stack socket show up as ::ffff:a.b.c.d. */
export function normalizeIp(ip: string | undefined): string {
  if (!ip) return '';
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return v4 ? v4[1] : ip;
}

export function isLoopback(ip: string): boolean {
  return ip === '::1' || /^127\./.test(ip);
}

/** trusted_proxies: addresses or CIDR ranges, IPv4 or IPv6. */
export class TrustedProxies {
  private readonly list = new BlockList();
  private readonly empty: boolean;

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, prefix] = entry.split('/');
      const family = isIP(address);
      if (!family) continue;
      const type = family === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, Number(prefix), type);
    }
    this.empty = entries.length === 0;
  }

  has(ip: string): boolean {
    if (this.empty || !ip) return false;
    const family = isIP(ip);
    if (!family) return false;
    return this.list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  }
}

export interface ClientAddress {
  /** The client's address: the peer, or from X-Forwarded-For when the peer is a trusted proxy. */
  ip: string;
  /** The TCP peer is a trusted proxy (its X-Forwarded-* headers are believed). */
  viaTrustedProxy: boolean;
}

/**
 * X-Forwarded-For is read right to left, skipping trusted proxies: the first address a trusted
 * hop did not add itself is the client. Only a trusted peer's header is read at all, so a client
 * connecting directly cannot choose its own address.
 */
export function clientAddress(req: IncomingMessage, proxies: TrustedProxies): ClientAddress {
  const peer = normalizeIp(req.socket.remoteAddress);
  if (!proxies.has(peer)) return { ip: peer, viaTrustedProxy: false };
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((h) => normalizeIp(h.trim()))
    .filter(Boolean);
  let ip = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!isIP(hops[i])) break;
    ip = hops[i];
    if (!proxies.has(ip)) break;
  }
  return { ip, viaTrustedProxy: true };
}
