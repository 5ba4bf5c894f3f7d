/** Latency statistics and the fixed-width rows every section of the bench prints. */

export interface Stats {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { n: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

export const LABEL_WIDTH = 46;

export const ms = (v: number) => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`.padStart(10);

export function latencyHeader(title = 'latency'): string {
  return `${title.padEnd(LABEL_WIDTH)}${'n'.padStart(5)}${'p50'.padStart(10)}${'p95'.padStart(10)}${'p99'.padStart(10)}${'max'.padStart(10)}${'mean'.padStart(10)}`;
}

export function row(label: string, st: Stats): string {
  return `${label.padEnd(LABEL_WIDTH)}${String(st.n).padStart(5)}${ms(st.p50)}${ms(st.p95)}${ms(st.p99)}${ms(st.max)}${ms(st.mean)}`;
}

/** A table whose first column is a label and whose other columns are right-aligned text. */
export function textTable(header: string[], rows: string[][], widths: number[]): string[] {
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(LABEL_WIDTH) : c.padStart(widths[i - 1] ?? 12))).join('');
  return [line(header), ...rows.map(line)];
}

/** Label: value lines, the value starting where the tables' columns start. */
export function labelled(rows: Array<[string, string]>): string[] {
  return rows.map(([label, value]) => `${label.padEnd(LABEL_WIDTH)}${value}`);
}

export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export function kib(bytes: number): string {
  const v = bytes / 1024;
  return `${v < 10 ? v.toFixed(2) : v.toFixed(1)} KiB`;
}
