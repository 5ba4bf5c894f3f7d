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

/** One scrape of the daemon's /metrics: sample name with its labels → value. */
export async function scrapeMetrics(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
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
