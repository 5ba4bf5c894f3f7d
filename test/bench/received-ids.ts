/** The event ids one soak client has received: one bit per id above a base, grown as ids arrive. */
export class ReceivedIds {
  private bits = new Uint8Array(64);
  private total = 0;

  /** `base`: the lowest id that can arrive (the client's first ?since= plus one). */
  constructor(private readonly base: number) {}

  /** Records `id`; false when it had been received before. */
  add(id: number): boolean {
    const i = id - this.base;
    if (i < 0) return false;
    const byte = i >> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(this.bits.length * 2, byte + 1));
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (i & 7);
    if (this.bits[byte]! & mask) return false;
    this.bits[byte] = this.bits[byte]! | mask;
    this.total += 1;
    return true;
  }

  has(id: number): boolean {
    const i = id - this.base;
    if (i < 0) return false;
    const byte = i >> 3;
    return byte < this.bits.length && (this.bits[byte]! & (1 << (i & 7))) !== 0;
  }

  /** Distinct ids received. */
  get size(): number {
    return this.total;
  }
}
