import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/** The eight 16-bit words of a valid IPv6 address (zone id dropped, embedded dotted IPv4 read). */
function ipv6Words(address: string): number[] {
  const text = address.split('%')[0].toLowerCase();
  const toWords = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((piece) => {
          if (!piece.includes('.')) return [parseInt(piece, 16)];
          const [a, b, c, d] = piece.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head, tail] = text.split('::');
  if (tail === undefined) return toWords(head);
  const left = toWords(head);
  const right = toWords(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * One spelling per address, so a client cannot multiply its failed-auth allowance by writing
 * its address differently: an IPv4-mapped IPv6 address in any form (::ffff:a.b.c.d,
 * ::ffff:7f00:1, 0:0:0:0:0:ffff:…) becomes dotted IPv4; other IPv6 addresses their compressed
 * lower-case form. Anything that is not an address comes back as given.
 */
export function normalizeIp(ip: string | undefined): string {
  if (!ip) return '';
  if (isIP(ip) !== 6) return ip;
  const words = ipv6Words(ip);
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return [words[6] >> 8, words[6] & 255, words[7] >> 8, words[7] & 255].join('.');
  }
  return new URL(`http://[${words.map((w) => w.toString(16)).join(':')}]`).hostname.slice(1, -1);
}

/**
 * What the failed-auth limit counts by: an IPv4 address, an IPv6 /64 (one site or host gets a
 * whole /64 and can rotate through it), or, for something that is not an address, that text.
 */
export function addressKey(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  return `${ipv6Words(ip)
    .slice(0, 4)
    .map((w) => w.toString(16))
    .join(':')}::/64`;
}

export function isLoopback(ip: string): boolean {
  return ip === '::1' || (isIP(ip) === 4 && /^127\./.test(ip));
}

/** An X-Forwarded-For hop as an address: brackets and a port some proxies add are dropped. */
function hopAddress(hop: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  const withPort = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(hop);
  return normalizeIp(bracketed?.[1] ?? withPort?.[1] ?? hop);
}

/** At most the width of websocket_connections.ip_address, printable characters only. */
const untrustedLabel = (hop: string): string => hop.replace(/[^\x21-\x7e]/g, '?').slice(0, 45);

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
    .map((h) => hopAddress(h.trim()))
    .filter(Boolean);
  let ip = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    // A hop that is not an address is still the client's, untrusted: never the proxy's own
    // (loopback, exempt) address.
    ip = isIP(hops[i]) ? hops[i] : untrustedLabel(hops[i]);
    if (!proxies.has(ip)) break;
  }
  return { ip, viaTrustedProxy: true };
}
