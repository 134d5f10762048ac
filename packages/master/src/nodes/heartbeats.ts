/**
 * The heartbeat table: when this master last heard from each node, on a monotonic
 * clock, in memory only. Agents heartbeat every master each second, so whichever
 * master leads next already knows who is alive; nothing here reaches the log.
 */
export class HeartbeatTable {
  private readonly lastMs = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  record(node: string): void {
    this.lastMs.set(node, this.now());
  }

  /** When `node` was last heard from (same clock as `now`), or undefined. */
  lastHeard(node: string): number | undefined {
    return this.lastMs.get(node);
  }

  forget(node: string): void {
    this.lastMs.delete(node);
  }

  /** Drops nodes not heard from for `maxAgeMs` (deleted nodes, long gone agents): the table stays bounded. */
  prune(maxAgeMs: number): void {
    const now = this.now();
    for (const [node, at] of this.lastMs) if (now - at > maxAgeMs) this.lastMs.delete(node);
  }

  get size(): number {
    return this.lastMs.size;
  }
}

/**
 * A monotonic clock in wall-clock milliseconds: it starts at Date.now() and advances
 * with performance.now(), so timestamps read as dates but never jump with NTP.
 */
export function monotonicWallClock(): () => number {
  const wallStart = Date.now();
  const monoStart = performance.now();
  return () => Math.floor(wallStart + (performance.now() - monoStart));
}
