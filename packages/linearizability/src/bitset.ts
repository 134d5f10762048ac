// A fixed-size set of small integers, with a compact string form for memo keys.

export class Bitset {
  private readonly words: Uint32Array;
  private readonly halves: Uint16Array;

  constructor(readonly size: number) {
    this.words = new Uint32Array(Math.max(1, Math.ceil(size / 32)));
    this.halves = new Uint16Array(this.words.buffer);
  }

  set(i: number): void {
    this.words[i >>> 5] |= 1 << (i & 31);
  }

  clear(i: number): void {
    this.words[i >>> 5] &= ~(1 << (i & 31));
  }

  has(i: number): boolean {
    return (this.words[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  /** A snapshot of the set, for containsAll(). */
  snapshot(): Uint32Array {
    return this.words.slice();
  }

  /** Is every member of `snapshot` (of a set of the same size) also in this set? */
  containsAll(snapshot: Uint32Array): boolean {
    const words = this.words;
    for (let i = 0; i < words.length; i++) {
      if ((snapshot[i] & ~words[i]) !== 0) return false;
    }
    return true;
  }

  /** Is every member of this set also in `snapshot`? */
  within(snapshot: Uint32Array): boolean {
    const words = this.words;
    for (let i = 0; i < words.length; i++) {
      if ((words[i] & ~snapshot[i]) !== 0) return false;
    }
    return true;
  }

  /**
   * Two sets of the same size have the same key exactly when they are equal. One
   * UTF-16 code unit per 16 bits, without the leading run of full words (given as a
   * count) and the trailing run of empty ones: the search fills sets roughly from the
   * low end, so keys stay short however large the set.
   */
  key(): string {
    const words = this.words;
    let lo = 0;
    while (lo < words.length && words[lo] === 0xffffffff) lo++;
    let hi = words.length;
    while (hi > lo && words[hi - 1] === 0) hi--;
    const middle = this.halves.subarray(lo * 2, hi * 2);
    let out = String(lo) + ':';
    for (let i = 0; i < middle.length; i += 4096) {
      out += String.fromCharCode.apply(null, middle.subarray(i, i + 4096) as unknown as number[]);
    }
    return out;
  }
}
