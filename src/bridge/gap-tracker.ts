/** A run of missing ids, from..to inclusive. */
export interface IdRange {
  readonly from: number;
  readonly to: number;
}

interface TrackedRange extends IdRange {
  /** When the run was first seen missing behind a visible later id (ms). */
  readonly since: number;
}

/**
 * The ids below the poller's read position that it has not seen: InnoDB hands out AUTO_INCREMENT
 * ids at INSERT and makes the rows visible at COMMIT, so a missing id may be an open transaction.
 * Each run keeps the time it was first missing; when some of its ids show up it shrinks or
 * splits, and what is left keeps that age. The first missing id bounds the settled watermark.
 */
export class MissingIds {
  private ranges: TrackedRange[] = [];

  add(range: IdRange, nowMs: number): void {
    this.ranges.push({ ...range, since: nowMs });
    this.ranges.sort((a, b) => a.from - b.from);
  }

  /** An id that showed up, or was found gone. */
  remove(id: number): void {
    const next: TrackedRange[] = [];
    for (const r of this.ranges) {
      if (id < r.from || id > r.to) next.push(r);
      else {
        if (r.from < id) next.push({ ...r, to: id - 1 });
        if (id < r.to) next.push({ ...r, from: id + 1 });
      }
    }
    this.ranges = next;
  }

  /** A whole run that is settled (rolled back, or watched long enough). */
  drop(range: IdRange): void {
    this.ranges = this.ranges.filter((r) => r.from !== range.from || r.to !== range.to);
  }

  /** The lowest missing id, or undefined. */
  get first(): number | undefined {
    return this.ranges[0]?.from;
  }

  get size(): number {
    return this.ranges.length;
  }

  /** The oldest runs first by id, at most `limit`. */
  list(limit = Infinity): Array<IdRange & { since: number }> {
    return this.ranges.slice(0, limit);
  }
}
