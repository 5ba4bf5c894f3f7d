/**
 * The client's memory of which events it has handed to the page: the highest event id (sent as
 * `since` on reconnect) and a bounded window of recent ids, so an event that arrives twice (a
 * replay overlapping live delivery) is dispatched once.
 */
export class EventCursor {
  private readonly seen = new Set<number>();
  private readonly order: number[] = [];
  /** Ids at or below this were evicted from the window; treated as already seen. */
  private floor = 0;
  private highest: number | null;

  constructor(start: number | null = null, private readonly capacity = 4096) {
    this.highest = start !== null && Number.isFinite(start) && start >= 0 ? Math.floor(start) : null;
    if (this.highest !== null) this.floor = this.highest;
  }

  /** The id to resume after, or null when nothing is known yet. */
  get last(): number | null {
    return this.highest;
  }

  /**
   * Sets the starting point when nothing is known yet (from `connected.last_event_id`): events
   * up to it happened before this client existed.
   */
  startAt(id: number): void {
    if (this.highest !== null || !Number.isFinite(id) || id < 0) return;
    this.highest = Math.floor(id);
  }

  /** Moves the resume point forward (history lost anyway); never backwards. */
  skipTo(id: number): void {
    if (!Number.isFinite(id)) return;
    if (this.highest === null || id > this.highest) this.highest = Math.floor(id);
  }

  /** True the first time an id is seen; false for a duplicate. */
  accept(id: number): boolean {
    if (id <= this.floor || this.seen.has(id)) return false;
    this.seen.add(id);
    this.order.push(id);
    if (this.order.length > this.capacity) {
      const evicted = this.order.shift()!;
      this.seen.delete(evicted);
      if (evicted > this.floor) this.floor = evicted;
    }
    if (this.highest === null || id > this.highest) this.highest = id;
    return true;
  }
}
