import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

/** Memory of another process as the kernel sees it (Linux /proc). */
export interface ProcMemory {
  /** Resident set size now (VmRSS), bytes. */
  rss: number;
  /** Peak resident set size since start or the last `resetPeakRss` (VmHWM), bytes. */
  peak: number;
}

export function procMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => {
    const m = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    if (!m) throw new Error(`/proc/${pid}/status has no ${field} line: the bench reads memory from Linux's /proc`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Restarts VmHWM from the current RSS; false where the kernel does not allow it. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples RSS every `everyMs` until stopped: the peak where VmHWM cannot be reset. */
export function sampleRss(pid: number, everyMs = 20): { stop(): number } {
  let peak = procMemory(pid).rss;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, procMemory(pid).rss);
    } catch {
      // the process is gone; the peak so far stands
    }
  }, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

/** How long a scrape of /metrics may take before it counts as unanswered (ms). */
export const SCRAPE_TIMEOUT_MS = 5000;

/** One scrape of the daemon's /metrics: sample name with its labels → value. */
export async function scrapeMetrics(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`/metrics answered HTTP ${res.status}`);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** Open file descriptors of another process (entries of /proc/<pid>/fd). */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** utime + stime of a process, in seconds (/proc/<pid>/stat). */
export function cpuSeconds(pid: number, ticksPerSecond = clockTicks()): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command name start at field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** cpuSeconds of a process and its direct children (serve --workers runs its daemons as children). */
export function treeCpuSeconds(pid: number): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (Number(entry) === pid || ppid === pid) total += cpuSeconds(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

let ticks: number | undefined;

/** The kernel's clock ticks per second (getconf CLK_TCK), read once. */
export function clockTicks(): number {
  if (ticks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(r.stdout?.trim());
    ticks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return ticks;
}
