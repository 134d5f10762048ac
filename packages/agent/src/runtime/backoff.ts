/**
 * Crash back-off of one container: base, 2x base, 4x base, ... capped at max. A container
 * that ran for `resetMs` before it exited starts again from the base (a crash after a
 * long healthy run is not part of a loop).
 */
export class CrashBackoff {
  private consecutive = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly resetMs: number,
  ) {}

  /** The delay before restarting a container that ran for `ranMs`. */
  next(ranMs: number): number {
    if (ranMs >= this.resetMs) this.consecutive = 0;
    this.consecutive++;
    // 2^30 already exceeds any sane cap; avoid overflowing to Infinity.
    const factor = 2 ** Math.min(this.consecutive - 1, 30);
    return Math.min(this.maxMs, this.baseMs * factor);
  }

  get crashes(): number {
    return this.consecutive;
  }
}
