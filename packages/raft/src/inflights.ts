/**
 * The AppendEntries messages sent to one follower and not yet acknowledged,
 * bounded by count and by bytes so a slow follower cannot make the leader buffer without limit.
 */
export class Inflights {
  private indexes: number[] = [];
  private sizes: number[] = [];
  private start = 0;
  private bytes = 0;

  constructor(
    readonly maxCount: number,
    readonly maxBytes: number,
  ) {}

  get count(): number {
    return this.indexes.length - this.start;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  full(): boolean {
    return this.count >= this.maxCount || this.bytes >= this.maxBytes;
  }

  /** Record a message whose last entry is `lastIndex`. */
  add(lastIndex: number, sizeBytes: number): void {
    this.indexes.push(lastIndex);
    this.sizes.push(sizeBytes);
    this.bytes += sizeBytes;
  }

  /** The follower acknowledged everything up to `index`: free those messages. */
  freeLE(index: number): void {
    while (this.start < this.indexes.length && this.indexes[this.start] <= index) {
      this.bytes -= this.sizes[this.start];
      this.start++;
    }
    if (this.start > 1024 && this.start * 2 > this.indexes.length) {
      this.indexes = this.indexes.slice(this.start);
      this.sizes = this.sizes.slice(this.start);
      this.start = 0;
    }
  }

  /** Forget the oldest message (it was probably lost). */
  freeFirstOne(): void {
    if (this.count > 0) this.freeLE(this.indexes[this.start]);
  }

  reset(): void {
    this.indexes = [];
    this.sizes = [];
    this.start = 0;
    this.bytes = 0;
  }
}
