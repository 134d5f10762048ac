import { KvError } from './errors.js';

export interface LeaseClockOptions {
  /** After `expired()` reports a lease, it is not reported again for this long (the revoke is in flight). Default 3000. */
  revokeRetryMs?: number;
}

interface Deadline {
  ttlMs: number;
  deadlineMs: number;
  /** When `expired()` last reported this lease, if it did since the last renewal. */
  reportedAtMs: number | undefined;
}

/**
 * The leader's lease timers. In memory, not replicated and pure: time is
 * passed in. The leader proposes `leaseRevoke` for what `expired()` returns;
 * a new leader calls `resetAll` with the store's leases, giving each a fresh
 * full TTL (as etcd's lessor does on promotion), so a leader change can only
 * extend a lease, never cut it short.
 */
export class LeaseClock {
  private readonly deadlines = new Map<number, Deadline>();
  private readonly revokeRetryMs: number;

  constructor(opts: LeaseClockOptions = {}) {
    this.revokeRetryMs = opts.revokeRetryMs ?? 3000;
  }

  get size(): number {
    return this.deadlines.size;
  }

  grant(id: number, ttlSeconds: number, nowMs: number): void {
    const ttlMs = ttlSeconds * 1000;
    this.deadlines.set(id, { ttlMs, deadlineMs: nowMs + ttlMs, reportedAtMs: undefined });
  }

  /** Restarts the lease's full TTL from `nowMs`. Throws lease_not_found for an id it does not track. */
  keepAlive(id: number, nowMs: number): void {
    const d = this.deadlines.get(id);
    if (d === undefined) throw new KvError('lease_not_found', `lease ${id} not found in the lease clock`);
    d.deadlineMs = nowMs + d.ttlMs;
    d.reportedAtMs = undefined;
  }

  /** Forgets the lease. Unknown ids are ignored (revoke may be applied after an expiry report). */
  revoke(id: number): void {
    this.deadlines.delete(id);
  }

  /** Replaces every timer: each lease gets a full TTL from `nowMs`. */
  resetAll(leases: { id: number; ttlSeconds: number }[], nowMs: number): void {
    this.deadlines.clear();
    for (const l of leases) this.grant(l.id, l.ttlSeconds, nowMs);
  }

  /**
   * Leases whose deadline is at or before `nowMs`, earliest deadline first
   * (ties by id). A lease reported here is not reported again for
   * `revokeRetryMs`, so a lost revoke proposal is retried but an in-flight one
   * is not duplicated on every tick.
   */
  expired(nowMs: number): number[] {
    const due: [number, Deadline][] = [];
    for (const [id, d] of this.deadlines) {
      if (d.deadlineMs > nowMs) continue;
      if (d.reportedAtMs !== undefined && nowMs - d.reportedAtMs < this.revokeRetryMs) continue;
      due.push([id, d]);
    }
    due.sort((a, b) => a[1].deadlineMs - b[1].deadlineMs || a[0] - b[0]);
    for (const [, d] of due) d.reportedAtMs = nowMs;
    return due.map(([id]) => id);
  }

  /** Milliseconds left before expiry (0 once expired), or undefined for an unknown lease. */
  remainingMs(id: number, nowMs: number): number | undefined {
    const d = this.deadlines.get(id);
    return d === undefined ? undefined : Math.max(0, d.deadlineMs - nowMs);
  }
}
