/**
 * Event ids a connection was sent above the settled watermark: at most `capacity`, oldest
 * forgotten first. Ids mostly arrive ascending, so forgetting up to a watermark trims the front.
 */
export class SentIds {
  /** Made at the first id and dropped once empty: an idle connection keeps none. */
  private ids: Set<number> | undefined;

  constructor(private readonly capacity: number) {}

  has(id: number): boolean {
    return this.ids?.has(id) ?? false;
  }

  add(id: number): void {
    const ids = (this.ids ??= new Set<number>());
    ids.add(id);
    if (ids.size > this.capacity) ids.delete(ids.values().next().value!);
  }

  /** Stops at the first id above the watermark: one left behind it goes when the watermark passes that one. */
  forgetUpTo(watermark: number): void {
    const ids = this.ids;
    if (!ids) return;
    for (const id of ids) {
      if (id > watermark) return;
      ids.delete(id);
    }
    this.ids = undefined;
  }
}
