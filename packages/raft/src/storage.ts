import { CompactedError, RaftInvariantError, UnavailableError } from './errors.js';
import { EntryType, type ConfState, type Entry, type HardState, type Snapshot } from './types.js';

/**
 * What the core reads of the durable log. The core never writes it: the host
 * persists each Ready, then appends the same entries here (hashicorp's LogStore
 * and StableStore, read-only from the algorithm's side).
 */
export interface Storage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at most `maxSizeBytes` (but always at least one). */
  entries(lo: number, hi: number, maxSizeBytes?: number): Entry[];
  /** Term of the entry at `index`; `firstIndex() - 1` answers the snapshot's term. */
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

export function entrySizeBytes(e: Entry): number {
  return e.data.length + 24;
}

/** Trim `entries` so their total size stays within `maxSizeBytes`, keeping at least one. */
export function limitSize(entries: Entry[], maxSizeBytes: number | undefined): Entry[] {
  if (maxSizeBytes === undefined || entries.length <= 1) return entries;
  let size = entrySizeBytes(entries[0]);
  let n = 1;
  for (; n < entries.length; n++) {
    size += entrySizeBytes(entries[n]);
    if (size > maxSizeBytes) break;
  }
  return n === entries.length ? entries : entries.slice(0, n);
}

const EMPTY = new Uint8Array(0);

/**
 * The log, hard state and latest snapshot held in memory. Used directly by tests
 * and the simulator, and by real hosts as the cache in front of their disk.
 * `ents[0]` is a placeholder for the snapshot's (index, term).
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: '', commit: 0 };
  private snap: Snapshot;
  private ents: Entry[];

  constructor(conf: ConfState = { voters: [], learners: [] }) {
    this.snap = { meta: { index: 0, term: 0, confState: cloneConf(conf) }, data: EMPTY };
    this.ents = [placeholder(0, 0)];
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: cloneConf(this.snap.meta.confState) };
  }

  hardStateNow(): HardState {
    return { ...this.hardState };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  private offset(): number {
    return this.ents[0].index;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  entries(lo: number, hi: number, maxSizeBytes?: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new CompactedError(`entries from ${lo}: compacted up to ${offset}`);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(`entries to ${hi}: last index is ${this.lastIndex()}`);
    if (lo >= hi) return [];
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSizeBytes);
  }

  term(index: number): number {
    const offset = this.offset();
    if (index < offset) throw new CompactedError(`term of ${index}: compacted up to ${offset}`);
    if (index - offset >= this.ents.length) throw new UnavailableError(`term of ${index}: last index is ${this.lastIndex()}`);
    return this.ents[index - offset].term;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replace the whole state with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.meta.index <= this.snap.meta.index) {
      throw new RaftInvariantError(`snapshot at ${snapshot.meta.index} is older than the one held at ${this.snap.meta.index}`);
    }
    this.snap = snapshot;
    this.ents = [placeholder(snapshot.meta.index, snapshot.meta.term)];
  }

  /** Record a snapshot of the state machine taken at `index` (which must be applied and still in the log). */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) throw new CompactedError(`snapshot at ${index}: already have one at ${this.snap.meta.index}`);
    if (index > this.lastIndex()) throw new UnavailableError(`snapshot at ${index}: last index is ${this.lastIndex()}`);
    this.snap = { meta: { index, term: this.term(index), confState: cloneConf(confState) }, data };
    return this.snap;
  }

  /** Discard entries up to and including `index` (the snapshot must cover them). */
  compact(index: number): void {
    const offset = this.offset();
    if (index <= offset) throw new CompactedError(`compact to ${index}: already compacted to ${offset}`);
    if (index > this.lastIndex()) throw new UnavailableError(`compact to ${index}: last index is ${this.lastIndex()}`);
    const term = this.ents[index - offset].term;
    const rest = this.ents.slice(index - offset + 1);
    this.ents = [placeholder(index, term), ...rest];
  }

  /** Append entries; an entry at an index already held replaces it and everything after it. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[entries.length - 1].index;
    if (last < first) return;
    if (first > entries[0].index) entries = entries.slice(first - entries[0].index);
    const at = entries[0].index - this.offset();
    if (at > this.ents.length) {
      throw new RaftInvariantError(`append at ${entries[0].index} leaves a gap after last index ${this.lastIndex()}`);
    }
    this.ents.length = at;
    for (const e of entries) this.ents.push(e);
  }
}

function placeholder(index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: EMPTY };
}

export function cloneConf(conf: ConfState): ConfState {
  return { voters: [...conf.voters], learners: [...conf.learners] };
}
