import type { SoakTally } from './load-messages.js';
import { afterEachFullGc, floors, kibPerMin, leastSquaresSlope, medianSlope, slopeBeside, withHeapPeak, type MemorySample } from './soak-memory.js';
import type { SoakOptions } from './soak-options.js';
import { labelled, mib, textTable } from './table.js';
import { SCRAPE_TIMEOUT_MS } from './process-memory.js';

/** The daemon's open files, timers and connections at one moment. */
export interface DaemonResources {
  /** Entries of /proc/<pid>/fd. */
  fds: number;
  /** Ref'd timers (nodejs_active_resources{type="Timeout"} in /metrics). */
  timers: number;
  handles: number;
  connections: number;
  rss: number;
  slowConsumerCloses: number;
}

export interface SoakOutcome {
  o: SoakOptions;
  samples: MemorySample[];
  /** Memory samples /metrics did not answer within the scrape timeout, and the first reason. */
  unanswered: { count: number; first: string | undefined };
  tally: SoakTally;
  /** Counted clients subscribed again after churn stopped. */
  liveAfterQuiesce: number;
  /** Counted clients that had the end marker. */
  reachedEnd: number;
  events: { small: number; broadcasts: number; bulk: number };
  resources: { before: DaemonResources; atStart: DaemonResources; atEnd: DaemonResources; after: DaemonResources };
}

/** Descriptors and timers the daemon may hold after every client left, beyond what it held before any came. */
const FD_SLACK = 10;
const TIMER_SLACK = 5;
const MIN_SAMPLES = 5;
/** Full collections the heap's trend needs after the warm-up (the daemon under the soak makes one every minute or so). */
const MIN_FULL_COLLECTIONS = 3;
/** A shorter measurement is GC sawtooth more than trend: its slopes are printed, not judged. */
const JUDGE_MEMORY_FROM_SEC = 120;

const count = (n: number) => n.toLocaleString('en-US');
const slope = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(1)} KiB/min`;
const codes = (byCode: Record<string, number>) =>
  Object.entries(byCode)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${count(n)} × ${code === '0' ? 'still open after reading again' : code}`)
    .join(', ') || 'none';

/** Reconnect failures by reason, most frequent first. */
export const reasons = (byReason: Record<string, number>) =>
  Object.entries(byReason)
    .sort((a, b) => b[1] - a[1])
    .map(([why, n]) => `${count(n)} × ${why}`)
    .join(', ') || 'none';

export function soakReport(x: SoakOutcome): { lines: string[]; passed: boolean } {
  const { o, tally: t, resources: r } = x;
  const failures: string[] = [];
  const measured = x.samples.filter((s) => s.atSec >= o.warmupSec);
  const measuredSec = measured.length > 1 ? measured[measured.length - 1]!.atSec - measured[0]!.atSec : 0;
  const floorWindowSec = Math.min(30, Math.max(5, Math.round(measuredSec / 8)));
  const rssSlope = kibPerMin(leastSquaresSlope(measured.map((s) => [s.atSec, s.rss])));
  const heapSlope = kibPerMin(leastSquaresSlope(measured.map((s) => [s.atSec, s.heapUsed])));
  const heapFloor = floors(measured, floorWindowSec, (s) => s.heapUsed);
  const heapFloorSlope = kibPerMin(leastSquaresSlope(heapFloor));
  const rssFloorSlope = kibPerMin(leastSquaresSlope(floors(measured, floorWindowSec, (s) => s.rss)));
  const outsideHeap = (s: MemorySample) => s.rss - s.heapTotal;
  const outsideHeapSlope = kibPerMin(leastSquaresSlope(measured.map((s) => [s.atSec, outsideHeap(s)])));
  // Memory outside the heap rises in steps when the heap reaches a new peak (the collector's own
  // bookkeeping, which malloc keeps), then stays flat; a leak rises with time. The growth judged is
  // the part that follows time once the part that follows the heap's peak (since the warm-up) is out.
  const outsideFit = slopeBeside(withHeapPeak(measured).map(({ sample, peak }): [number, number, number] => [sample.atSec, peak, outsideHeap(sample)]));
  const outsideBesidePeakSlope = kibPerMin(outsideFit.slope);
  const fullCollections = afterEachFullGc(measured);
  // A collection that runs while replays or slow consumers' frames are queued sees them live: the
  // median of the pairwise slopes is not pulled by one such point, a steady rise moves it.
  const liveHeapSlope = kibPerMin(medianSlope(fullCollections));
  const thirds = [0, 1, 2].map((i) => {
    const from = (measured[0]?.atSec ?? 0) + (measuredSec * i) / 3;
    const part = measured.filter((s) => s.atSec >= from && s.atSec <= from + measuredSec / 3);
    return slope(kibPerMin(leastSquaresSlope(part.map((s) => [s.atSec, s.rss]))));
  });
  const range = (pick: (s: MemorySample) => number) => {
    const v = measured.map(pick);
    return `${mib(v[0] ?? 0)} → ${mib(v[v.length - 1] ?? 0)} (min ${mib(Math.min(...v))}, max ${mib(Math.max(...v))})`;
  };

  if (t.lost > 0) failures.push(`${count(t.lost)} events lost`);
  if (t.duplicates > 0) failures.push(`${count(t.duplicates)} duplicate events`);
  if (t.unexpected > 0) failures.push(`${count(t.unexpected)} events reached a client that may not see them`);
  if (t.notRecovered > 0) failures.push(`${count(t.notRecovered)} reconnects said recovered: false`);
  if (x.liveAfterQuiesce < t.clients) failures.push(`${count(t.clients - x.liveAfterQuiesce)} clients were not connected again after churn stopped`);
  if (x.reachedEnd < t.clients) failures.push(`${count(t.clients - x.reachedEnd)} clients never had the last event`);
  const judgeMemory = measuredSec >= JUDGE_MEMORY_FROM_SEC;
  if (x.unanswered.count > 0) failures.push(`/metrics did not answer ${count(x.unanswered.count)} times (${x.unanswered.first})`);
  if (measured.length < MIN_SAMPLES) failures.push(`only ${measured.length} memory samples after the warm-up`);
  // A leak grows live objects (the heap after each full collection) or memory outside the V8 heap
  // with time (native, Buffers). The heap's committed size is the collector's choice: it rises and
  // falls by tens of MiB, and a least-squares line over minutes of that sawtooth follows its phase,
  // so RSS is printed, not judged; so are the heap floor and the plain slope outside the heap.
  if (judgeMemory && outsideBesidePeakSlope > o.maxRssSlopeKibPerMin) failures.push(`the RSS outside the V8 heap grew ${slope(outsideBesidePeakSlope)} with time, beside the heap's peaks (bound ${o.maxRssSlopeKibPerMin} KiB/min)`);
  if (judgeMemory && fullCollections.length < MIN_FULL_COLLECTIONS) failures.push(`only ${fullCollections.length} full collections after the warm-up: the heap's trend is unknown`);
  else if (judgeMemory && liveHeapSlope > o.maxHeapSlopeKibPerMin) failures.push(`the heap after each full collection grew ${slope(liveHeapSlope)} (bound ${o.maxHeapSlopeKibPerMin} KiB/min)`);
  if (r.after.fds > r.before.fds + FD_SLACK) failures.push(`${r.after.fds - r.before.fds} more open files after every client left than before any came`);
  if (r.after.timers > r.before.timers + TIMER_SLACK) failures.push(`${r.after.timers - r.before.timers} more timers after every client left than before any came`);
  if (r.after.connections !== 0) failures.push(`the daemon still counts ${r.after.connections} connections after every client left`);

  const memoryVerdict = judgeMemory
    ? `memory flat (RSS outside the V8 heap ${slope(outsideBesidePeakSlope)} with time, heap after full collections ${slope(liveHeapSlope)}; RSS ${slope(rssSlope)}, not judged)`
    : `memory not judged (${Math.round(measuredSec)} s measured after the warm-up; slopes are judged from ${JUDGE_MEMORY_FROM_SEC} s)`;
  const slowSeen = Object.values(t.slowCloses).reduce((a, b) => a + b, 0);
  const lines = [
    '',
    `events: ${count(x.events.small)} small + ${count(x.events.broadcasts)} broadcasts + ${count(x.events.bulk)} large + the end marker; each counted client checked by event id`,
    ...labelled([
      ['delivered / expected (sum over clients)', `${count(t.delivered)} / ${count(t.expected)}`],
      ['lost', count(t.lost)],
      ['duplicates (same id twice on one client)', count(t.duplicates)],
      ['to a client that may not see them', count(t.unexpected)],
      ['out of order (id below one already had)', count(t.outOfOrder)],
      ['reconnects with ?since= (failed attempts)', `${count(t.reconnects)} (${count(t.reconnectFailures)})`],
      ['  why they failed', reasons(t.failureReasons)],
      ['recovered: false', count(t.notRecovered)],
      ['counted clients closed by the daemon', codes(t.serverCloses)],
      ['slow consumers, close as they saw it', `${count(slowSeen)}: ${codes(t.slowCloses)}`],
      ['  still paused when the soak ended', `${count(t.slowUnread)} (closed by the daemon or not, they had not read it)`],
      ['teampass_ws_slow_consumer_closes_total', count(r.atEnd.slowConsumerCloses - r.before.slowConsumerCloses)],
      ...t.examples.map((e): [string, string] => ['  e.g.', e]),
    ]),
    '',
    `daemon memory after a ${o.warmupSec} s warm-up: ${measured.length} samples every ${x.samples.length > 1 ? Math.round(x.samples[1]!.atSec - x.samples[0]!.atSec) : 0} s over ${Math.round(measuredSec)} s`,
    ...labelled([
      [`/metrics unanswered (within ${SCRAPE_TIMEOUT_MS / 1000} s)`, x.unanswered.count === 0 ? 'never' : `${count(x.unanswered.count)} times, first ${x.unanswered.first}`],
      ['RSS (VmRSS)', range((s) => s.rss)],
      ['  least-squares slope (not judged)', slope(rssSlope)],
      ['  slope in each third of the span', thirds.join(', ')],
      [`  slope of the floor (lowest per ${floorWindowSec} s)`, slope(rssFloorSlope)],
      ['  of which V8 heap committed', `${range((s) => s.heapTotal)}, slope ${slope(kibPerMin(leastSquaresSlope(measured.map((s) => [s.atSec, s.heapTotal]))))}`],
      ['  outside the V8 heap (RSS − committed)', `${range(outsideHeap)}, slope ${slope(outsideHeapSlope)} (not judged)`],
      ['    with time, beside the heap\'s peaks', `${slope(outsideBesidePeakSlope)} (bound ${o.maxRssSlopeKibPerMin} KiB/min); ${outsideFit.perZ.toFixed(2)} MiB per MiB of new heap peak`],
      ['    of which Buffers', `${range((s) => s.external)}, slope ${slope(kibPerMin(leastSquaresSlope(measured.map((s) => [s.atSec, s.external]))))}`],
      ['V8 heap used', range((s) => s.heapUsed)],
      ['  least-squares slope, every sample', slope(heapSlope)],
      [`  slope of the floor (lowest per ${floorWindowSec} s)`, `${slope(heapFloorSlope)} (not judged)`],
      ['  just after each full collection', `${fullCollections.length} collections, ${fullCollections.length > 0 ? `${mib(fullCollections[0]![1])} → ${mib(fullCollections[fullCollections.length - 1]![1])} (min ${mib(Math.min(...fullCollections.map(([, v]) => v)))}, max ${mib(Math.max(...fullCollections.map(([, v]) => v)))})` : '—'}, median pairwise slope ${slope(liveHeapSlope)} (bound ${o.maxHeapSlopeKibPerMin} KiB/min), least squares ${slope(kibPerMin(leastSquaresSlope(fullCollections)))}`],
    ]),
    '',
    ...textTable(
      ['daemon', 'no clients', 'start', 'end', 'all left'],
      [
        ['open files (/proc/<pid>/fd)', ...[r.before, r.atStart, r.atEnd, r.after].map((v) => count(v.fds))],
        ['timers (active Timeout resources)', ...[r.before, r.atStart, r.atEnd, r.after].map((v) => count(v.timers))],
        ['handles', ...[r.before, r.atStart, r.atEnd, r.after].map((v) => count(v.handles))],
        ['connections', ...[r.before, r.atStart, r.atEnd, r.after].map((v) => count(v.connections))],
        ['RSS', ...[r.before, r.atStart, r.atEnd, r.after].map((v) => mib(v.rss))],
      ],
      [12, 12, 12, 12],
    ),
    '',
    failures.length === 0
      ? `verdict: PASS — nothing lost, no duplicate, ${memoryVerdict}, no file or timer left behind`
      : `verdict: FAIL — ${failures.join('; ')}`,
  ];
  return { lines, passed: failures.length === 0 };
}
