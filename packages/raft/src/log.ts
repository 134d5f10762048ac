import { CompactedError, RaftInvariantError, UnavailableError } from './errors.js';
import { limitSize, entrySizeBytes, type Storage } from './storage.js';
import { Unstable } from './unstable.js';
import type { Entry, Snapshot } from './types.js';

/**
 * The node's view of the log: the durable part (Storage) followed by the part
 * not yet persisted (Unstable), plus the commit and apply positions.
 */
export class RaftLog {
  readonly unstable: Unstable;
  committed: number;
  applied: number;

  constructor(
    readonly storage: Storage,
    private readonly maxCommittedBytesPerReady: number,
  ) {
    const firstIndex = storage.firstIndex();
    this.unstable = new Unstable(storage.lastIndex() + 1);
    this.committed = firstIndex - 1;
    this.applied = firstIndex - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    if (t === undefined) throw new RaftInvariantError(`no term for last index ${this.lastIndex()}`);
    return t;
  }

  /** Term of the entry at `index`, or undefined when compacted away or beyond the end. */
  term(index: number): number | undefined {
    const dummy = this.firstIndex() - 1;
    if (index < dummy || index > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(index);
    if (t !== undefined) return t;
    try {
      return this.storage.term(index);
    } catch (err) {
      if (err instanceof CompactedError || err instanceof UnavailableError) return undefined;
      throw err;
    }
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft §5.4.1: is a candidate's log (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Follower side of AppendEntries. Returns the index of the last new entry, or
   * undefined when our log has no entry (index, logTerm) to attach them to.
   */
  maybeAppend(index: number, logTerm: number, leaderCommit: number, entries: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new RaftInvariantError(`entry ${conflict} conflicts with committed entry (committed ${this.committed})`);
      }
      this.append(entries.slice(conflict - (index + 1)));
    }
    // Figure 2: commitIndex = min(leaderCommit, index of last new entry).
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /** Append entries after truncating any conflicting suffix. Returns the new last index. */
  append(entries: Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    if (entries[0].index - 1 < this.committed) {
      throw new RaftInvariantError(`append at ${entries[0].index} would overwrite committed ${this.committed}`);
    }
    this.truncateAndAppend(entries);
    return this.lastIndex();
  }

  /** Overridable only so tests can build a deliberately broken variant. */
  protected truncateAndAppend(entries: Entry[]): void {
    this.unstable.truncateAndAppend(entries);
  }

  /**
   * The first entry in `entries` whose term differs from ours at that index
   * (or which we do not have), or 0 when all of them already match.
   * Only a real conflict truncates: a stale, shorter AppendEntries changes nothing.
   */
  findConflict(entries: Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast back-off: the largest index <= `index` whose term is <= `term`, with that term.
   * Lets a leader skip a whole conflicting term in one round trip.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; i >= 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) {
      throw new RaftInvariantError(`commit ${index} is beyond last index ${this.lastIndex()}`);
    }
    this.committed = index;
  }

  /** Commit `index` if it is in `term` (the leader's current term): Figure 8's rule. */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    if (index > this.committed || index < this.applied) {
      throw new RaftInvariantError(`applied ${index} out of range [${this.applied}, ${this.committed}]`);
    }
    this.applied = index;
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  restore(snapshot: Snapshot): void {
    this.committed = snapshot.meta.index;
    this.unstable.restore(snapshot);
  }

  /** Committed entries not yet handed out for applying, after `appliedOrApplying`. */
  nextCommittedEntries(appliedOrApplying: number): Entry[] {
    const lo = Math.max(appliedOrApplying + 1, this.firstIndex());
    if (this.committed + 1 <= lo) return [];
    return this.slice(lo, this.committed + 1, this.maxCommittedBytesPerReady);
  }

  hasNextCommittedEntries(appliedOrApplying: number): boolean {
    return this.committed > Math.max(appliedOrApplying, this.firstIndex() - 1);
  }

  /** Entries from `lo` to the end, at most `maxSizeBytes`. Throws CompactedError below firstIndex. */
  entries(lo: number, maxSizeBytes?: number): Entry[] {
    const last = this.lastIndex();
    if (lo > last) return [];
    return this.slice(lo, last + 1, maxSizeBytes);
  }

  /** Entries in [lo, hi), limited by size. Throws CompactedError when lo was compacted. */
  slice(lo: number, hi: number, maxSizeBytes?: number): Entry[] {
    if (lo < this.firstIndex()) throw new CompactedError(`log slice from ${lo}: first index is ${this.firstIndex()}`);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(`log slice to ${hi}: last index is ${this.lastIndex()}`);
    if (lo >= hi) return [];
    const offset = this.unstable.offset;
    let result: Entry[] = [];
    if (lo < offset) {
      result = this.storage.entries(lo, Math.min(hi, offset), maxSizeBytes);
      // Storage stopped early because of the size limit: do not add unstable entries after a gap.
      if (result.length < Math.min(hi, offset) - lo) return result;
    }
    if (hi > offset) {
      const tail = this.unstable.slice(Math.max(lo, offset), hi);
      result = result.length === 0 ? tail : result.concat(tail);
    }
    if (maxSizeBytes === undefined) return result;
    return limitSize(result, maxSizeBytes);
  }
}

export { entrySizeBytes };
