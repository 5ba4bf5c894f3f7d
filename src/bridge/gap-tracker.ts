/** A run of missing ids, from..to inclusive. */
export interface IdRange {
  readonly from: number;
  readonly to: number;
}

interface TrackedGap extends IdRange {
  /** When an id of this run was first seen missing behind a visible later id (ms). */
  readonly since: number;
}

/** Missing ids between consecutive rows, given the id everything up to which is resolved. */
export function findGaps(afterId: number, ids: readonly number[]): IdRange[] {
  const gaps: IdRange[] = [];
  let expected = afterId + 1;
  for (const id of ids) {
    if (id > expected) gaps.push({ from: expected, to: id - 1 });
    if (id >= expected) expected = id + 1;
  }
  return gaps;
}

/**
 * Remembers since when each missing id has been missing, across polls. A run of missing ids can
 * shrink or split as some of its ids commit; what is left keeps the age of its oldest id, so a
 * gap is never waited for longer than the grace period in total.
 */
export class GapTracker {
  private gaps: TrackedGap[] = [];

  /**
   * Records this poll's gaps. Gaps tracked beyond `readUpTo` were not visible in this read (a full
   * batch ended before them) and are kept; the others that were not seen again have filled.
   */
  observe(gaps: readonly IdRange[], readUpTo: number, nowMs: number): void {
    const next: TrackedGap[] = [];
    for (const gap of gaps) next.push({ ...gap, since: this.oldestSince(gap) ?? nowMs });
    for (const old of this.gaps) if (old.from > readUpTo) next.push(old);
    this.gaps = next.sort((a, b) => a.from - b.from);
  }

  /** ms the run has been missing; 0 for one never observed. */
  ageMs(gap: IdRange, nowMs: number): number {
    const since = this.oldestSince(gap);
    return since === undefined ? 0 : nowMs - since;
  }

  /** Everything at or below `id` is resolved: forget it. */
  resolvedUpTo(id: number): void {
    this.gaps = this.gaps.filter((g) => g.to > id).map((g) => (g.from <= id ? { ...g, from: id + 1 } : g));
  }

  get size(): number {
    return this.gaps.length;
  }

  private oldestSince(range: IdRange): number | undefined {
    let since: number | undefined;
    for (const g of this.gaps) {
      if (g.to < range.from || g.from > range.to) continue;
      if (since === undefined || g.since < since) since = g.since;
    }
    return since;
  }
}
