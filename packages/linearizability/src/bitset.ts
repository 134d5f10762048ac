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

  /**
   * Two sets of the same size have the same key exactly when they are equal.
   * One UTF-16 code unit per 16 bits: short, and cheap to build and hash.
   */
  key(): string {
    const halves = this.halves;
    if (halves.length <= 4096) {
      return String.fromCharCode.apply(null, halves as unknown as number[]);
    }
    let out = '';
    for (let i = 0; i < halves.length; i += 4096) {
      out += String.fromCharCode.apply(null, halves.subarray(i, i + 4096) as unknown as number[]);
    }
    return out;
  }
}
