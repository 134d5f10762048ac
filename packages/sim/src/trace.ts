/**
 * A bounded ring buffer of one-line, human-readable step descriptions.
 * With `keepAll` nothing is dropped (the `--trace` mode); otherwise only the
 * last `capacityLines` lines survive, which is what a violation report prints.
 */
export class Trace {
  private readonly lines: string[] = [];
  private start = 0;
  private droppedLines = 0;

  constructor(
    private readonly capacityLines: number,
    private readonly keepAll: boolean,
  ) {}

  add(line: string): void {
    if (this.keepAll || this.lines.length < this.capacityLines) {
      this.lines.push(line);
      return;
    }
    this.lines[this.start] = line;
    this.start = (this.start + 1) % this.capacityLines;
    this.droppedLines++;
  }

  /** Lines dropped because the buffer was full. */
  dropped(): number {
    return this.droppedLines;
  }

  /** All retained lines, oldest first. */
  all(): string[] {
    if (this.start === 0) return [...this.lines];
    return [...this.lines.slice(this.start), ...this.lines.slice(0, this.start)];
  }

  /** The newest `n` lines, oldest first. */
  tail(n: number): string[] {
    const all = this.all();
    return all.slice(Math.max(0, all.length - n));
  }
}
