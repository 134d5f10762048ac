/**
 * Watches need a leader (etcd's "require leader"): a member that has had no leader for a
 * while (cut off from the others, or the quorum is gone) learns of no new writes, so a
 * watch it serves would go quiet instead of failing. Such a member ends its resource
 * watches with UNAVAILABLE, so clients resume on another master, and refuses new ones
 * until it has a leader again. Elections are short: only a leaderless spell longer than
 * `graceMs` counts.
 */
export interface LeaderlessWatchGuardOptions {
  member: string;
  /** The leader this member knows of ('' for none). */
  leaderName: () => string;
  now: () => number;
  graceMs: number;
  /** Ends every open watch with this reason. */
  endWatches: (reason: string) => void;
}

export class LeaderlessWatchGuard {
  private leaderlessSinceMs: number | undefined;

  constructor(private readonly o: LeaderlessWatchGuardOptions) {}

  /** Run periodically (every graceMs / 2 or so): ends the watches once the leaderless spell is long enough. */
  check(): void {
    const reason = this.refusal();
    if (reason !== undefined) this.o.endWatches(reason);
  }

  /** Why a watch cannot be served here now, or undefined when it can. */
  refusal(): string | undefined {
    if (this.o.leaderName() !== '') {
      this.leaderlessSinceMs = undefined;
      return undefined;
    }
    const now = this.o.now();
    this.leaderlessSinceMs ??= now;
    const forMs = now - this.leaderlessSinceMs;
    if (forMs < this.o.graceMs) return undefined;
    return `master ${this.o.member} has had no leader for ${forMs} ms (cut off from the other masters?): its watches would miss changes; resume the watch on another master`;
  }
}
