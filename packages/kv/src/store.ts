import { createHash } from 'node:crypto';
import { KvError } from './errors.js';
import { KeyIndex, KeyVersion, type KeyHistory } from './history.js';
import { checkKey, checkRangeEnd, describe, keyInterval, type KeyInterval } from './keys.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';
import { planTxn, type LiveScan, type TxnPlan } from './txn.js';
import type {
  DeleteRangeRequest,
  KeyValue,
  KvCommand,
  KvResult,
  KvStats,
  KvStoreOptions,
  LeaseInfo,
  OpResponse,
  PutRequest,
  PutResponse,
  DeleteRangeResponse,
  RangeRequest,
  RangeResponse,
  TxnResponse,
  WatchEvent,
  WatchOptions,
  WatchSink,
} from './types.js';
import { checkLeaseId, validateCommand, validateRange } from './validate.js';
import { toWatchEvent, WatcherSet, type Change, type Watcher } from './watch.js';
import { WatchBuffer } from './watch-buffer.js';

/** Revision of an empty store (etcd's): the first write gets revision 2. */
export const INITIAL_REVISION = 1;

const DEFAULT_MAX_WATCHER_PENDING_EVENTS = 10_000;
/** Rough fixed cost of one retained KeyVersion object and its array slot, for stats. */
const VERSION_OVERHEAD_BYTES = 72;
/** Rough fixed cost of one key's history object, index slot and map entry, for stats. */
const KEY_OVERHEAD_BYTES = 120;

interface Lease {
  ttlSeconds: number;
  keys: Set<string>;
}

/** The changes one command makes, all at revision `rev` (committed only if any). */
class WriteTxn {
  sub = 0;
  readonly changes: Change[] = [];
  /** Range responses inside a txn, whose header revision is known only at commit. */
  readonly ranges: RangeResponse[] = [];
  constructor(readonly rev: number) {}
}

/**
 * etcd-v3-style MVCC key-value store: the deterministic state machine behind
 * the Raft log. `apply` takes committed commands; `range` and `watch` read.
 * No clock, no I/O, no randomness: replicas fed the same commands are
 * identical (compare `hash()`).
 */
export class KvStore {
  private rev = INITIAL_REVISION;
  private compactRev = 0;
  private readonly index = new KeyIndex();
  private readonly leaseTable = new Map<number, Lease>();
  private readonly watchers = new WatcherSet();
  private liveKeys = 0;
  private versionCount = 0;
  /** True while watch sinks run (live delivery or a replay): apply is refused then. */
  private delivering = false;
  readonly maxWatcherPendingEvents: number;

  constructor(opts: KvStoreOptions = {}) {
    const max = opts.maxWatcherPendingEvents ?? DEFAULT_MAX_WATCHER_PENDING_EVENTS;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new KvError('invalid', `maxWatcherPendingEvents: must be an integer >= 1 (got ${describe(max)})`);
    }
    this.maxWatcherPendingEvents = max;
  }

  /** The revision of the last change (1 for an empty store). */
  get revision(): number {
    return this.rev;
  }

  /** Reads below this revision fail with 'compacted'; watches must start above it. 0 = never compacted. */
  get compactRevision(): number {
    return this.compactRev;
  }

  /**
   * Applies one committed command. Throws KvError for a command that must
   * change nothing; then the store is exactly as before (same revision, same
   * hash, no events). Watch sinks are called before this returns.
   */
  apply(cmd: KvCommand): KvResult {
    if (this.delivering) {
      throw new KvError('invalid', `apply(${describe((cmd as { type?: unknown })?.type)}): called from inside a watch sink; apply commands from outside event delivery`);
    }
    validateCommand(cmd);
    switch (cmd.type) {
      case 'put': {
        this.checkPut(cmd, 'put');
        const w = new WriteTxn(this.rev + 1);
        const resp = this.execPut(w, cmd);
        this.commit(w);
        return { type: 'put', revision: this.rev, ...resp };
      }
      case 'deleteRange': {
        const w = new WriteTxn(this.rev + 1);
        const resp = this.execDelete(w, cmd);
        this.commit(w);
        return { type: 'deleteRange', revision: this.rev, ...resp };
      }
      case 'txn': {
        const plan = planTxn(cmd, this.liveScan());
        this.checkPlan(plan, 'txn');
        const w = new WriteTxn(this.rev + 1);
        const resp = this.execPlan(w, plan);
        this.commit(w);
        for (const r of w.ranges) r.revision = this.rev;
        return { type: 'txn', revision: this.rev, ...resp };
      }
      case 'compact':
        this.compact(cmd.revision);
        return { type: 'compact', revision: this.rev };
      case 'leaseGrant': {
        if (this.leaseTable.has(cmd.id)) throw new KvError('lease_exists', `leaseGrant.id: lease ${cmd.id} already exists`);
        this.leaseTable.set(cmd.id, { ttlSeconds: cmd.ttlSeconds, keys: new Set() });
        return { type: 'leaseGrant', revision: this.rev, id: cmd.id, ttlSeconds: cmd.ttlSeconds };
      }
      case 'leaseRevoke': {
        const lease = this.requireLease(cmd.id, 'leaseRevoke.id');
        const w = new WriteTxn(this.rev + 1);
        for (const key of [...lease.keys].sort()) this.deleteKey(w, this.index.get(key)!);
        this.leaseTable.delete(cmd.id);
        this.commit(w);
        return { type: 'leaseRevoke', revision: this.rev };
      }
      case 'leaseKeepAlive': {
        const lease = this.requireLease(cmd.id, 'leaseKeepAlive.id');
        return { type: 'leaseKeepAlive', revision: this.rev, id: cmd.id, ttlSeconds: lease.ttlSeconds };
      }
    }
  }

  /** Reads `[key, rangeEnd)` at `req.revision` (0 = current). Throws 'compacted' / 'future_revision'. */
  range(req: RangeRequest): RangeResponse {
    validateRange(req, 'range');
    this.checkReadRevision(req.revision ?? 0, 'range.revision');
    return this.execRange(req);
  }

  /**
   * Watches `[key, rangeEnd)`. With a `startRevision` at or below the current
   * revision, first replays every retained change from it, synchronously, one
   * sink call per revision; then delivers each later revision as it is
   * applied. Throws 'compacted' if `startRevision <= compactRevision` (the
   * changes at the compact revision itself may be gone). If the sink throws
   * during the replay, the error propagates and no watcher is left behind; if
   * it throws later, that watcher is canceled with the error as its reason.
   */
  watch(opts: WatchOptions, sink: WatchSink): Watcher {
    const key = checkKey(opts.key, 'watch.key');
    const rangeEnd = checkRangeEnd(opts.rangeEnd, 'watch.rangeEnd');
    const requested = opts.startRevision ?? 0;
    if (!Number.isSafeInteger(requested) || requested < 0) {
      throw new KvError('invalid', `watch.startRevision: must be an integer >= 0 (got ${describe(opts.startRevision)})`);
    }
    if (opts.prevKv !== undefined && typeof opts.prevKv !== 'boolean') {
      throw new KvError('invalid', `watch.prevKv: must be a boolean (got ${describe(opts.prevKv)})`);
    }
    if (requested !== 0 && requested <= this.compactRev) {
      throw new KvError(
        'compacted',
        `watch.startRevision: revision ${requested} has been compacted (compacted revision ${this.compactRev}); watch from revision ${this.compactRev + 1} or later`,
      );
    }
    const start = requested === 0 ? this.rev + 1 : requested;
    const w = this.watchers.create(key, rangeEnd, opts.prevKv === true, start, sink);
    if (start <= this.rev) {
      const outer = this.delivering;
      this.delivering = true;
      try {
        this.replay(w, start);
      } finally {
        this.delivering = outer;
      }
    }
    w.nextRevision = Math.max(start, this.rev + 1);
    this.watchers.add(w);
    return w;
  }

  /**
   * A watch into a bounded `WatchBuffer` (default bound: the store's
   * maxWatcherPendingEvents), for asynchronous consumers. An overflow closes
   * the buffer and cancels the watcher.
   */
  watchBuffered(opts: WatchOptions, bufferOpts: { maxPendingEvents?: number } = {}): { watcher: Watcher; buffer: WatchBuffer } {
    const buffer = new WatchBuffer({ maxPendingEvents: bufferOpts.maxPendingEvents ?? this.maxWatcherPendingEvents });
    const watcher = this.watch(opts, buffer.sink);
    buffer.attach(watcher);
    return { watcher, buffer };
  }

  /** Every lease, by id, with its attached keys (sorted). */
  leases(): LeaseInfo[] {
    return [...this.leaseTable.keys()].sort((a, b) => a - b).map((id) => this.leaseInfo(id, this.leaseTable.get(id)!));
  }

  leaseTimeToLive(id: number): LeaseInfo | undefined {
    const lease = this.leaseTable.get(id);
    return lease === undefined ? undefined : this.leaseInfo(id, lease);
  }

  /** The whole logical state: revision, compact revision, retained history, leases. Not watchers. */
  snapshot(): Uint8Array {
    return new TextEncoder().encode(this.encode());
  }

  static restore(data: Uint8Array, opts: KvStoreOptions = {}): KvStore {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(data);
    } catch (err) {
      throw new KvError('invalid', `snapshot: not valid UTF-8 (${err instanceof Error ? err.message : String(err)})`);
    }
    const s = decodeSnapshot(text);
    const store = new KvStore(opts);
    store.rev = s.revision;
    store.compactRev = s.compactRevision;
    for (const [id, ttlSeconds] of s.leases) store.leaseTable.set(id, { ttlSeconds, keys: new Set() });
    for (const h of s.histories) {
      store.index.insert(h);
      store.versionCount += h.versions.length;
      const live = h.latest();
      if (live === undefined) continue;
      store.liveKeys++;
      if (live.lease === 0) continue;
      const lease = store.leaseTable.get(live.lease);
      if (lease === undefined) {
        throw new KvError('invalid', `snapshot.keys: key ${describe(h.key)} is attached to lease ${live.lease}, which the snapshot does not hold`);
      }
      lease.keys.add(h.key);
    }
    return store;
  }

  /** SHA-256 (hex) of the canonical snapshot: equal iff the logical states are equal. */
  hash(): string {
    return createHash('sha256').update(this.encode(), 'utf8').digest('hex');
  }

  stats(): KvStats {
    let approxBytes = 0;
    for (const h of this.index.all()) {
      approxBytes += KEY_OVERHEAD_BYTES + h.key.length;
      for (const v of h.versions) approxBytes += VERSION_OVERHEAD_BYTES + (v.value?.length ?? 0);
    }
    return {
      keys: this.liveKeys,
      revisions: this.versionCount,
      watchers: this.watchers.size,
      leases: this.leaseTable.size,
      approxBytes,
    };
  }

  // --- writes -------------------------------------------------------------

  private commit(w: WriteTxn): void {
    if (w.changes.length === 0) return;
    this.rev = w.rev;
    this.delivering = true;
    try {
      this.watchers.dispatch(w.rev, w.changes);
    } finally {
      this.delivering = false;
    }
  }

  private execPut(w: WriteTxn, req: PutRequest): PutResponse {
    const h = this.index.getOrCreate(req.key);
    const prev = h.latest();
    // checkPut guarantees prev exists when ignoreValue / ignoreLease is set.
    const value = req.ignoreValue === true ? prev!.value! : req.value;
    const lease = req.ignoreLease === true ? prev!.lease : (req.lease ?? 0);
    const v = new KeyVersion(
      w.rev,
      w.sub++,
      value,
      prev === undefined ? w.rev : prev.createRevision,
      prev === undefined ? 1 : prev.version + 1,
      lease,
    );
    h.versions.push(v);
    this.versionCount++;
    if (prev === undefined) this.liveKeys++;
    if (prev !== undefined && prev.lease !== 0 && prev.lease !== lease) this.leaseTable.get(prev.lease)?.keys.delete(req.key);
    if (lease !== 0) this.leaseTable.get(lease)!.keys.add(req.key);
    w.changes.push({ key: req.key, version: v, prev });
    return req.prevKv === true && prev !== undefined ? { prevKv: prev.toKeyValue(req.key) } : {};
  }

  private execDelete(w: WriteTxn, req: DeleteRangeRequest): DeleteRangeResponse {
    const targets: KeyHistory[] = [];
    this.scan(keyInterval(req.key, req.rangeEnd), (h) => {
      if (h.latest() !== undefined) targets.push(h);
    });
    const prevKvs: KeyValue[] = [];
    for (const h of targets) {
      const prev = this.deleteKey(w, h);
      if (req.prevKv === true) prevKvs.push(prev.toKeyValue(h.key));
    }
    return req.prevKv === true ? { deleted: targets.length, prevKvs } : { deleted: targets.length };
  }

  /** Writes a tombstone for a live key; returns the version it ended. */
  private deleteKey(w: WriteTxn, h: KeyHistory): KeyVersion {
    const prev = h.latest()!;
    const tombstone = new KeyVersion(w.rev, w.sub++, null, 0, 0, 0);
    h.versions.push(tombstone);
    this.versionCount++;
    this.liveKeys--;
    if (prev.lease !== 0) this.leaseTable.get(prev.lease)?.keys.delete(h.key);
    w.changes.push({ key: h.key, version: tombstone, prev });
    return prev;
  }

  private execPlan(w: WriteTxn, plan: TxnPlan): TxnResponse {
    const responses: OpResponse[] = plan.ops.map((op, i): OpResponse => {
      if ('range' in op) {
        const r = this.execRange(op.range);
        w.ranges.push(r);
        return { range: r };
      }
      if ('put' in op) return { put: this.execPut(w, op.put) };
      if ('deleteRange' in op) return { deleteRange: this.execDelete(w, op.deleteRange) };
      return { txn: this.execPlan(w, plan.nested[i]!) };
    });
    return { succeeded: plan.succeeded, responses };
  }

  /** Every state-dependent check of the branches a txn will take, before it changes anything. */
  private checkPlan(plan: TxnPlan, field: string): void {
    const branch = `${field}.${plan.succeeded ? 'success' : 'failure'}`;
    plan.ops.forEach((op, i) => {
      const opField = `${branch}[${i}]`;
      if ('put' in op) this.checkPut(op.put, `${opField}.put`);
      else if ('range' in op) this.checkReadRevision(op.range.revision ?? 0, `${opField}.range.revision`);
      else if ('txn' in op) this.checkPlan(plan.nested[i]!, `${opField}.txn`);
    });
  }

  private checkPut(req: PutRequest, field: string): void {
    if ((req.ignoreValue === true || req.ignoreLease === true) && this.index.get(req.key)?.latest() === undefined) {
      const flag = req.ignoreValue === true ? 'ignoreValue' : 'ignoreLease';
      throw new KvError('key_not_found', `${field}.key: key ${describe(req.key)} not found (${flag} needs an existing key)`);
    }
    const lease = req.lease ?? 0;
    if (req.ignoreLease !== true && lease !== 0 && !this.leaseTable.has(lease)) {
      throw new KvError('lease_not_found', `${field}.lease: lease ${lease} not found`);
    }
  }

  private compact(revision: number): void {
    if (revision <= this.compactRev) {
      throw new KvError('compacted', `compact.revision: revision ${revision} has already been compacted (compacted revision ${this.compactRev})`);
    }
    if (revision > this.rev) {
      throw new KvError('future_revision', `compact.revision: revision ${revision} is a future revision (current revision ${this.rev})`);
    }
    for (const h of this.index.all()) this.versionCount -= h.compact(revision);
    this.index.removeEmpty();
    this.compactRev = revision;
  }

  private requireLease(id: number, field: string): Lease {
    checkLeaseId(id, field);
    const lease = this.leaseTable.get(id);
    if (lease === undefined) throw new KvError('lease_not_found', `${field}: lease ${id} not found`);
    return lease;
  }

  // --- reads --------------------------------------------------------------

  private checkReadRevision(revision: number, field: string): void {
    if (revision === 0) return;
    if (revision > this.rev) {
      throw new KvError('future_revision', `${field}: revision ${revision} is a future revision (current revision ${this.rev})`);
    }
    if (revision < this.compactRev) {
      throw new KvError('compacted', `${field}: revision ${revision} has been compacted (compacted revision ${this.compactRev})`);
    }
  }

  /**
   * A read at `req.revision`, or at the newest state (including the writes an
   * in-progress txn has made so far) when it is 0. The revision must be checked.
   */
  private execRange(req: RangeRequest): RangeResponse {
    const at = req.revision ?? 0;
    const limit = req.limit ?? 0;
    const kvs: RangeResponse['kvs'] = [];
    let count = 0;
    let more = false;
    this.scan(keyInterval(req.key, req.rangeEnd), (h) => {
      const v = at === 0 ? h.latest() : h.at(at);
      if (v === undefined) return;
      count++;
      if (req.countOnly === true) return;
      if (limit > 0 && kvs.length >= limit) {
        more = true;
        return;
      }
      kvs.push(v.toKeyValue(h.key, req.keysOnly === true));
    });
    return { kvs, more, count, revision: this.rev };
  }

  private scan(iv: KeyInterval, visit: (h: KeyHistory) => boolean | void): void {
    if (iv.single) {
      const h = this.index.get(iv.from);
      if (h !== undefined) visit(h);
      return;
    }
    this.index.scan(iv.from, iv.to, visit);
  }

  /** Live versions now, for txn compares. */
  private liveScan(): LiveScan {
    return (iv, visit) =>
      this.scan(iv, (h) => {
        const v = h.latest();
        return v === undefined ? true : visit(v);
      });
  }

  private replay(w: Watcher, start: number): void {
    const items: { h: KeyHistory; i: number }[] = [];
    this.scan(w.interval, (h) => {
      for (let i = h.lastIndexAtOrBefore(start - 1) + 1; i < h.versions.length; i++) items.push({ h, i });
    });
    items.sort((a, b) => {
      const va = a.h.versions[a.i];
      const vb = b.h.versions[b.i];
      return va.modRevision - vb.modRevision || va.sub - vb.sub;
    });
    let batch: WatchEvent[] = [];
    for (let j = 0; j < items.length && !w.canceled; j++) {
      const { h, i } = items[j];
      const v = h.versions[i];
      batch.push(toWatchEvent(h.key, v, h.previousLive(i), w.prevKv));
      const next = items[j + 1];
      if (next === undefined || next.h.versions[next.i].modRevision !== v.modRevision) {
        w.sink(batch);
        batch = [];
      }
    }
  }

  private leaseInfo(id: number, lease: Lease): LeaseInfo {
    return { id, ttlSeconds: lease.ttlSeconds, keys: [...lease.keys].sort() };
  }

  private encode(): string {
    return encodeSnapshot({
      revision: this.rev,
      compactRevision: this.compactRev,
      histories: this.index.all(),
      leases: [...this.leaseTable.entries()].sort((a, b) => a[0] - b[0]).map(([id, l]) => [id, l.ttlSeconds]),
    });
  }
}
