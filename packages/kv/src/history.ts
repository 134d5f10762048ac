import type { KeyValue } from './types.js';

/**
 * One change of one key: a put (value !== null) or a tombstone (value === null).
 * Immutable once stored. Every key changes at most once per revision (a txn
 * that would change a key twice is refused), so `modRevision` orders a key's
 * history; `sub` orders the changes made within one revision (etcd's
 * sub-revision) and only matters for the order of watch events.
 */
export class KeyVersion {
  constructor(
    readonly modRevision: number,
    readonly sub: number,
    /** null = tombstone. */
    readonly value: string | null,
    readonly createRevision: number,
    readonly version: number,
    readonly lease: number,
  ) {}

  get isTombstone(): boolean {
    return this.value === null;
  }

  /**
   * The version as a KeyValue. Full (not keys-only) answers are made once and shared,
   * frozen: every range and watch event of this version hands out the same object, so
   * a reader that decodes values can cache its work by identity (a WeakMap).
   */
  toKeyValue(key: string, keysOnly = false): KeyValue {
    if (!keysOnly && this.shared !== undefined) return this.shared;
    const kv: KeyValue = {
      key,
      value: keysOnly || this.value === null ? '' : this.value,
      createRevision: this.createRevision,
      modRevision: this.modRevision,
      version: this.version,
      lease: this.lease,
    };
    if (keysOnly) return kv;
    this.shared = Object.freeze(kv);
    return this.shared;
  }

  private shared: KeyValue | undefined;
}

/**
 * The retained history of one key, oldest first. No per-revision copies: a
 * revision that does not touch a key costs that key nothing.
 */
export class KeyHistory {
  versions: KeyVersion[] = [];

  constructor(readonly key: string) {}

  /** The live version now, or undefined if the key is deleted (or never existed). */
  latest(): KeyVersion | undefined {
    const last = this.versions[this.versions.length - 1];
    return last === undefined || last.isTombstone ? undefined : last;
  }

  /** The live version as of `revision`, or undefined if the key did not exist then. */
  at(revision: number): KeyVersion | undefined {
    const i = this.lastIndexAtOrBefore(revision);
    if (i < 0) return undefined;
    const v = this.versions[i];
    return v.isTombstone ? undefined : v;
  }

  /** Index of the last version with modRevision <= revision, or -1. */
  lastIndexAtOrBefore(revision: number): number {
    const vs = this.versions;
    if (vs.length > 0 && vs[vs.length - 1].modRevision <= revision) return vs.length - 1;
    let lo = 0;
    let hi = vs.length; // first index with modRevision > revision lies in [lo, hi]
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (vs[mid].modRevision <= revision) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** The version before `index` if it is a live value (the "prevKv" of the change at `index`). */
  previousLive(index: number): KeyVersion | undefined {
    const prev = this.versions[index - 1];
    return prev === undefined || prev.isTombstone ? undefined : prev;
  }

  /**
   * Compaction at `revision`: keep the latest version at or before it (unless
   * a tombstone) and everything after. Returns the number of versions dropped.
   */
  compact(revision: number): number {
    const i = this.lastIndexAtOrBefore(revision);
    if (i < 0) return 0;
    const keepFrom = this.versions[i].isTombstone ? i + 1 : i;
    if (keepFrom === 0) return 0;
    this.versions = this.versions.slice(keepFrom);
    return keepFrom;
  }
}

/**
 * Ordered index of every key that has retained history, beside a Map for
 * point lookups. The order is kept in sorted chunks of at most
 * `maxChunkSize` histories (a one-level B+-tree): finding a key is two binary
 * searches, an insert shifts at most one chunk, and a scan walks chunks in
 * order, so a range read with a limit is O(log n + k) and 100k inserts in
 * random key order stay cheap.
 */
export class KeyIndex {
  /** Non-empty chunks, each sorted by key; every key of chunk c < every key of chunk c+1. */
  private chunks: KeyHistory[][] = [];
  private readonly byKey = new Map<string, KeyHistory>();

  constructor(private readonly maxChunkSize = 512) {
    if (!Number.isSafeInteger(maxChunkSize) || maxChunkSize < 2) throw new Error(`KeyIndex: maxChunkSize must be an integer >= 2 (got ${maxChunkSize})`);
  }

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): KeyHistory | undefined {
    return this.byKey.get(key);
  }

  getOrCreate(key: string): KeyHistory {
    const h = this.byKey.get(key);
    return h ?? this.insert(new KeyHistory(key));
  }

  /** Adds the history of a key the index does not hold yet. */
  insert(h: KeyHistory): KeyHistory {
    const key = h.key;
    if (this.byKey.has(key)) throw new Error(`KeyIndex.insert: key ${JSON.stringify(key)} is already indexed`);
    this.byKey.set(key, h);
    const chunks = this.chunks;
    if (chunks.length === 0) {
      chunks.push([h]);
      return h;
    }
    let c = this.chunkFor(key);
    if (c === chunks.length) c--; // beyond every key: append to the last chunk
    const chunk = chunks[c];
    if (chunk[chunk.length - 1].key < key) chunk.push(h);
    else chunk.splice(lowerBoundIn(chunk, key), 0, h);
    if (chunk.length > this.maxChunkSize) chunks.splice(c + 1, 0, chunk.splice(chunk.length >>> 1));
    return h;
  }

  /**
   * Calls `visit` for each key history in `[from, to)` (to null = unbounded) in
   * key order, until `visit` returns false.
   */
  scan(from: string, to: string | null, visit: (h: KeyHistory) => boolean | void): void {
    const chunks = this.chunks;
    const c0 = this.chunkFor(from);
    if (c0 === chunks.length) return;
    let i = lowerBoundIn(chunks[c0], from);
    for (let c = c0; c < chunks.length; c++, i = 0) {
      const chunk = chunks[c];
      for (; i < chunk.length; i++) {
        const h = chunk[i];
        if (to !== null && h.key >= to) return;
        if (visit(h) === false) return;
      }
    }
  }

  /** Every history, in key order (a new array). */
  all(): KeyHistory[] {
    return this.chunks.flat();
  }

  /** Drops keys whose history became empty (after compaction) and rebalances the chunks. */
  removeEmpty(): void {
    if (this.chunks.every((chunk) => chunk.every((h) => h.versions.length > 0))) return;
    const kept: KeyHistory[] = [];
    for (const chunk of this.chunks) {
      for (const h of chunk) {
        if (h.versions.length > 0) kept.push(h);
        else this.byKey.delete(h.key);
      }
    }
    const half = this.maxChunkSize >>> 1;
    this.chunks = [];
    for (let i = 0; i < kept.length; i += half) this.chunks.push(kept.slice(i, i + half));
  }

  /** Index of the first chunk whose last key is >= `key` (chunks.length if none). */
  private chunkFor(key: string): number {
    const chunks = this.chunks;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = chunks[mid];
      if (chunk[chunk.length - 1].key < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** First position in a sorted chunk whose key is >= `key`. */
function lowerBoundIn(chunk: KeyHistory[], key: string): number {
  let lo = 0;
  let hi = chunk.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (chunk[mid].key < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
