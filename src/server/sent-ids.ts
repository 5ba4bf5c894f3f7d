/**
 * Event ids a connection was sent above the settled watermark: at most `capacity`, oldest
 * forgotten first. Ids mostly arrive ascending, so forgetting up to a watermark trims the front.
 */
export class SentIds {
  private readonly ids = new Set<number>();

  constructor(private readonly capacity: number) {}

  has(id: number): boolean {
    return this.ids.has(id);
  }

  add(id: number): void {
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value!);
  }

  /** Stops at the first id above the watermark: one left behind it goes when the watermark passes that one. */
  forgetUpTo(watermark: number): void {
    for (const id of this.ids) {
      if (id > watermark) return;
      this.ids.delete(id);
    }
  }
}
