/**
 * The client's memory of which events it has handed to the page.
 *
 * The resume point (sent as `since` on reconnect) is the server's settled watermark, never the
 * highest id seen: replays come channel by channel and a transaction can commit after later ids,
 * so ids below the highest one seen may still be on their way. Every id at or below the
 * watermark was received (the server says so only after sending them); the ids handed over above
 * it are kept, so a replay or a late event is dispatched once. The server moves the watermark
 * with every live event; until it does, the kept ids cover what a replay may send again.
 */
export class EventCursor {
  private readonly seen = new Set<number>();
  private watermark: number | null;

  constructor(start: number | null = null) {
    this.watermark = start !== null && Number.isFinite(start) && start >= 0 ? Math.floor(start) : null;
  }

  /** The id to resume after, or null when nothing is known yet. */
  get last(): number | null {
    return this.watermark;
  }

  /** Ids handed over above the resume point. */
  get pending(): number {
    return this.seen.size;
  }

  /**
   * Sets the starting point when nothing is known yet (from `connected`): events up to it
   * happened before this client existed.
   */
  startAt(id: number): void {
    if (this.watermark !== null || !Number.isFinite(id) || id < 0) return;
    this.watermark = Math.floor(id);
  }

  /**
   * The server says every event at or below `id` was sent to this client before, or is gone:
   * the resume point moves there (never backwards). Also used when history was lost anyway.
   */
  settle(id: number): void {
    if (!Number.isFinite(id) || (this.watermark !== null && id <= this.watermark)) return;
    this.watermark = Math.floor(id);
    for (const seen of this.seen) if (seen <= id) this.seen.delete(seen);
  }

  /** True the first time an id is seen; false for a duplicate. */
  accept(id: number): boolean {
    if ((this.watermark !== null && id <= this.watermark) || this.seen.has(id)) return false;
    this.seen.add(id);
    return true;
  }
}
