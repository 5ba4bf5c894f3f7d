/** The bench's closing table: N, figure, raw ws, teampass-ws, ratio — medians over the rounds. */
import type { RetryReasons } from './load-messages.js';
import { retryCount, type RoundResult } from './round.js';
import { kib } from './table.js';

export const count = (n: number) => Math.round(n).toLocaleString('en-US');

export function median(values: number[]): number {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const duration = (msValue: number) => (msValue >= 10_000 ? `${(msValue / 1000).toFixed(1)} s` : msValue >= 1000 ? `${(msValue / 1000).toFixed(2)} s` : `${msValue < 10 ? msValue.toFixed(1) : Math.round(msValue)} ms`);
export const ratio = (ours: number, raw: number) => (Number.isFinite(ours / raw) ? `${(ours / raw).toFixed(ours / raw >= 10 ? 0 : 2)}×` : '—');

export function reasons(r: RetryReasons): string {
  const total = retryCount(r);
  if (total === 0) return 'no client retried';
  return Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([why, n]) => `${count(n)} × ${why}`)
    .join('; ');
}

export function mergeRetries(all: RetryReasons[]): RetryReasons {
  const out: RetryReasons = {};
  for (const r of all) for (const [why, n] of Object.entries(r)) out[why] = (out[why] ?? 0) + n;
  return out;
}

export interface WorkersRow {
  /** null: serve has no --workers. */
  one: RoundResult | null;
  two: RoundResult | null;
}

export interface IdleRow {
  cpuShare: number;
  rows: string;
}

/** The table, as markdown-style rows so it pastes into the README as it is. */
export function summaryTable(n: number, raw: RoundResult[], ours: RoundResult[], workers: WorkersRow, idle: IdleRow, sqlPerConnection: number | null): string[] {
  const N = count(n);
  const m = (rs: RoundResult[], f: (r: RoundResult) => number | undefined) => median(rs.map((r) => f(r) ?? NaN));
  const rows: string[][] = [];
  const rawCps = m(raw, (r) => r.connectsPerSecond);
  const ourCps = m(ours, (r) => r.connectsPerSecond);
  rows.push([N, 'connects/s (token auth + 3 subscribes)', count(rawCps), count(ourCps), ratio(ourCps, rawCps)]);
  const cpu = (rs: RoundResult[]) => m(rs, (r) => r.cpuMsPerConnection);
  rows.push([N, 'server CPU per new connection (utime + stime while connecting)', `${cpu(raw).toFixed(2)} ms`, `${cpu(ours).toFixed(2)} ms`, ratio(cpu(ours), cpu(raw))]);

  const stormMs = (rs: RoundResult[]) => m(rs, (r) => r.storm?.ms);
  const stormRetries = (rs: RoundResult[]) => m(rs, (r) => (r.storm ? retryCount(r.storm.retries) : undefined));
  rows.push([N, 'reconnect storm, all back and resubscribed', `${duration(stormMs(raw))}, ${count(stormRetries(raw))} retries`, `${duration(stormMs(ours))}, ${count(stormRetries(ours))} retries`, ratio(stormMs(ours), stormMs(raw))]);
  rows.push([N, 'SQL statements per new connection (storm)', '— (no database)', sqlPerConnection === null ? 'n/a (no MariaDB)' : sqlPerConnection.toFixed(2), '—']);

  const p = (rs: RoundResult[], q: 'p50' | 'p99') => m(rs, (r) => r.latency?.[q]);
  const rate = m(ours, (r) => r.latency?.perSecond);
  const nominal = n * 5;
  rows.push([
    N,
    `folder event → client, p50 / p99 (${count(nominal)} deliveries/s nominal, ${count(rate)}/s delivered incl. drain)`,
    `${duration(p(raw, 'p50'))} / ${duration(p(raw, 'p99'))}`,
    `${duration(p(ours, 'p50'))} / ${duration(p(ours, 'p99'))}`,
    `${ratio(p(ours, 'p50'), p(raw, 'p50'))} / ${ratio(p(ours, 'p99'), p(raw, 'p99'))}`,
  ]);
  const rss = (rs: RoundResult[]) => m(rs, (r) => r.rssPerConnection);
  const heap = (rs: RoundResult[]) => m(rs, (r) => r.heapPerConnection);
  rows.push([N, 'idle RSS per connection', kib(rss(raw)), kib(rss(ours)), ratio(rss(ours), rss(raw))]);
  rows.push([N, 'idle heap per connection', kib(heap(raw)), kib(heap(ours)), ratio(heap(ours), heap(raw))]);
  const bc = (rs: RoundResult[]) => m(rs, (r) => r.broadcastMs);
  rows.push([N, 'broadcast to all, last client', duration(bc(raw)), duration(bc(ours)), ratio(bc(ours), bc(raw))]);
  if (workers.one && workers.two) {
    const c1 = workers.one.connectsPerSecond;
    const c2 = workers.two.connectsPerSecond;
    rows.push([N, 'serve --workers 2 vs 1: connects/s', '—', `${count(c1)} → ${count(c2)}`, ratio(c2, c1)]);
    const l1 = workers.one.latency?.p99 ?? NaN;
    const l2 = workers.two.latency?.p99 ?? NaN;
    rows.push([N, 'serve --workers 2 vs 1: folder event p99', '—', `${duration(l1)} → ${duration(l2)}`, ratio(l2, l1)]);
  } else {
    rows.push([N, 'serve --workers 2 vs 1', '—', 'n/a (serve has no --workers yet)', '—']);
  }
  rows.push(['—', `idle daemon CPU, ${idle.rows}`, '—', `${(idle.cpuShare * 100).toFixed(2)} % of a core`, '—']);

  const header = ['N', 'figure', 'raw ws', 'teampass-ws', 'ratio'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 1 ? ` ${'-'.repeat(w)} ` : ` ${'-'.repeat(w - 1)}: `)).join('|')}|`, ...rows.map(line)];
}
