import type { IdRange } from './gap-tracker.js';

interface Watched extends IdRange {
  readonly untilMs: number;
}

const MAX_WATCHED = 100;

/**
 * Ids given up after the grace period, watched for a while longer: a transaction that commits
 * later still cannot be delivered live in order, but the operator must hear of it.
 */
export class LateCommitWatch {
  private watched: Watched[] = [];

  add(range: IdRange, nowMs: number, watchMs: number): void {
    this.watched.push({ ...range, untilMs: nowMs + watchMs });
    if (this.watched.length > MAX_WATCHED) this.watched.splice(0, this.watched.length - MAX_WATCHED);
  }

  /** The ranges still worth a look; expired ones are dropped. */
  active(nowMs: number): IdRange[] {
    this.watched = this.watched.filter((w) => w.untilMs > nowMs);
    return this.watched.map(({ from, to }) => ({ from, to }));
  }

  /** Stops watching an id that has shown up. */
  found(id: number): void {
    const next: Watched[] = [];
    for (const w of this.watched) {
      if (id < w.from || id > w.to) next.push(w);
      else {
        if (w.from < id) next.push({ ...w, to: id - 1 });
        if (id < w.to) next.push({ ...w, from: id + 1 });
      }
    }
    this.watched = next;
  }
}
