/** At most one log line per key per window, so a controller failing every pass does not flood the log. */
export class RateLimiter {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys = 1000,
  ) {}

  /** True when `key` may be logged now (and remembers that it was). */
  allow(key: string, nowMs: number): boolean {
    const at = this.last.get(key);
    if (at !== undefined && nowMs - at < this.windowMs) return false;
    if (this.last.size >= this.maxKeys) {
      for (const [k, t] of this.last) if (nowMs - t >= this.windowMs) this.last.delete(k);
      if (this.last.size >= this.maxKeys) return false;
    }
    this.last.set(key, nowMs);
    return true;
  }
}
