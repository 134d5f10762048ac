// The Raft log on disk: one LevelDB per master, written one atomic batch per
// Ready, read synchronously from an in-memory MemoryStorage kept identical to
// what is durable.

import { readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  MemoryStorage,
  cloneConf,
  type ConfState,
  type Entry,
  type HardState,
  type Logger,
  type Snapshot,
  type Storage,
} from '@bramble/raft';
import { Level } from 'level';
import { decodeEntry, encodeEntry, encodeJson, encodeSnapshotRecord, type ConfRecord } from './codec.js';
import { StorageError } from './errors.js';
import { CONF_STATE_KEY, HARD_STATE_KEY, SNAPSHOT_DATA_KEY, SNAPSHOT_META_KEY, entryKey } from './keys.js';
import { recover, type Db } from './recover.js';

export interface LevelStorageOptions {
  logger?: Logger;
}

/** The part of a Ready that must be durable before its messages are sent. */
export interface PersistInput {
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
  /** False when only the commit index changed: the batch is written without fsync (see README). Default true. */
  mustSync?: boolean;
}

export interface StorageStats {
  firstIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  /** Size of the database's files. */
  diskBytes?: number;
  /** Atomic batches written since open, and how many of them were fsynced: one per persist, saveSnapshot or saveConfState that wrote anything. */
  batchesWritten: number;
  syncedBatches: number;
}

type Op = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

const silentLogger: Logger = { debug() {}, info() {}, warn() {} };

export class LevelStorage implements Storage {
  /** Every write runs after the one before it has finished: batches reach disk in call order. */
  private tail: Promise<void> = Promise.resolve();
  /** Set once a batch failed: what is on disk is no longer known, so nothing more is written. */
  private failure: Error | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private batchesWritten = 0;
  private syncedBatches = 0;

  private constructor(
    readonly dir: string,
    private readonly db: Db,
    /** Identical to what is durable: updated only after a batch resolves. */
    private readonly cache: MemoryStorage,
    private conf: ConfRecord | undefined,
    private readonly logger: Logger,
  ) {}

  /** Open (creating if needed) the database in `dir` and recover everything in it. */
  static async open(dir: string, opts: LevelStorageOptions = {}): Promise<LevelStorage> {
    const logger = opts.logger ?? silentLogger;
    await mkdir(dir, { recursive: true });
    const db: Db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      // The whole log after the last snapshot is served from memory; LevelDB is read only while
      // recovering here, so its block cache (8 MiB by default) would be resident memory for nothing.
      await db.open({ cacheSize: 1024 * 1024 });
    } catch (err) {
      // level wraps the reason (e.g. LEVEL_LOCKED: another process holds the directory) in `cause`.
      const reason = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
      throw new StorageError(`open storage at ${dir}: ${reason}`, { cause: err });
    }
    let recovered;
    try {
      recovered = await recover(db, dir);
    } catch (err) {
      await db.close();
      throw err;
    }
    const storage = new LevelStorage(dir, db, recovered.cache, recovered.conf, logger);
    const { hardState } = storage.initialState();
    logger.info(
      {
        dir,
        created: recovered.created,
        firstIndex: storage.firstIndex(),
        lastIndex: storage.lastIndex(),
        snapshotIndex: storage.snapshot().meta.index,
        term: hardState.term,
        commit: hardState.commit,
      },
      recovered.created ? 'storage created' : 'storage recovered',
    );
    return storage;
  }

  // ---------------------------------------------------------------- Storage (synchronous reads)

  initialState(): { hardState: HardState; confState: ConfState } {
    const state = this.cache.initialState();
    // The applied configuration wins over the snapshot's when at least as recent; at index 0 it is the bootstrap configuration.
    if (this.conf && this.conf.appliedIndex >= this.cache.snapshot().meta.index) state.confState = cloneConf(this.conf.confState);
    return state;
  }

  entries(lo: number, hi: number, maxSizeBytes?: number): Entry[] {
    return this.cache.entries(lo, hi, maxSizeBytes);
  }

  term(index: number): number {
    return this.cache.term(index);
  }

  firstIndex(): number {
    return this.cache.firstIndex();
  }

  lastIndex(): number {
    return this.cache.lastIndex();
  }

  snapshot(): Snapshot {
    return this.cache.snapshot();
  }

  // ---------------------------------------------------------------- writes

  /**
   * Make one Ready durable: its snapshot (replacing the whole log), its entries
   * (an entry at an index already held replaces it and every entry after it) and
   * its hard state, in one atomic batch. Resolves once the batch is on disk and
   * the reads above show it.
   */
  persist(rd: PersistInput): Promise<void> {
    return this.enqueue('persist', async () => {
      const plan = this.planReady(rd);
      if (plan.ops.length === 0) return;
      await this.write('persist', plan.ops, rd.mustSync !== false);
      if (rd.snapshot) this.cache.applySnapshot({ meta: { ...rd.snapshot.meta, confState: cloneConf(rd.snapshot.meta.confState) }, data: rd.snapshot.data });
      if (plan.entries.length > 0) this.cache.append(plan.entries);
      if (rd.hardState) this.cache.setHardState(rd.hardState);
    });
  }

  /**
   * Record the configuration the host applied at `appliedIndex`. `initialState()`
   * returns it while it is at least as recent as the snapshot. A new member is
   * bootstrapped by saving its initial configuration at index 0.
   */
  saveConfState(confState: ConfState, appliedIndex: number): Promise<void> {
    return this.enqueue('saveConfState', async () => {
      const commit = this.cache.hardStateNow().commit;
      if (!Number.isSafeInteger(appliedIndex) || appliedIndex < 0) throw new StorageError(`saveConfState: appliedIndex must be a non-negative integer (got ${appliedIndex})`);
      if (appliedIndex > commit) throw new StorageError(`saveConfState: applied index ${appliedIndex} is past the durable commit index ${commit}`);
      const record: ConfRecord = { appliedIndex, confState: cloneConf(confState) };
      const ops: Op[] = [{ type: 'put', key: CONF_STATE_KEY, value: encodeJson(record) }, this.hardStateAgain()];
      await this.write('saveConfState', ops, true);
      this.conf = record;
    });
  }

  /**
   * Record a snapshot of the state machine taken at `index` (applied, hence
   * committed) and discard the log up to `compactTo` (<= index; at or below the
   * current compaction point means "discard nothing more"), in one atomic batch.
   */
  saveSnapshot(index: number, confState: ConfState, data: Uint8Array, compactTo: number): Promise<Snapshot> {
    return this.enqueue('saveSnapshot', async () => {
      const what = `saveSnapshot at ${index}`;
      const held = this.cache.snapshot().meta.index;
      const offset = this.cache.firstIndex() - 1;
      const last = this.cache.lastIndex();
      const commit = this.cache.hardStateNow().commit;
      if (!Number.isSafeInteger(index)) throw new StorageError(`${what}: index must be an integer`);
      if (index <= held) throw new StorageError(`${what}: already have a snapshot at ${held}`);
      if (index > commit) throw new StorageError(`${what}: past the durable commit index ${commit}`);
      if (index > last) throw new StorageError(`${what}: past the last index ${last}`);
      if (!Number.isSafeInteger(compactTo) || compactTo > index) throw new StorageError(`${what}: compactTo must be an integer <= ${index} (got ${compactTo})`);

      const newOffset = Math.max(offset, compactTo);
      const meta = { index, term: this.cache.term(index), confState: cloneConf(confState) };
      const ops: Op[] = [
        { type: 'put', key: SNAPSHOT_META_KEY, value: encodeSnapshotRecord(meta, { index: newOffset, term: this.cache.term(newOffset) }) },
        { type: 'put', key: SNAPSHOT_DATA_KEY, value: bufferView(data) },
        this.hardStateAgain(),
      ];
      for (let i = offset + 1; i <= newOffset; i++) ops.push({ type: 'del', key: entryKey(i) });
      await this.write(what, ops, true);
      const snapshot = this.cache.createSnapshot(index, confState, data);
      if (newOffset > offset) this.cache.compact(newOffset);
      return snapshot;
    });
  }

  /** Wait for every write already issued, then close the database. Later writes are refused. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = this.tail.then(async () => {
        this.closed = true;
        await this.db.close();
      });
      this.tail = this.closing.then(
        () => undefined,
        () => undefined,
      );
    }
    return this.closing;
  }

  stats(): StorageStats {
    return {
      firstIndex: this.firstIndex(),
      lastIndex: this.lastIndex(),
      snapshotIndex: this.snapshot().meta.index,
      diskBytes: directoryBytes(this.dir),
      batchesWritten: this.batchesWritten,
      syncedBatches: this.syncedBatches,
    };
  }

  // ---------------------------------------------------------------- internals

  /**
   * Check a Ready against what is durable and turn it into batch operations,
   * without touching the cache: a refused Ready leaves disk and cache as they were.
   */
  private planReady(rd: PersistInput): { ops: Op[]; entries: Entry[] } {
    const ops: Op[] = [];
    // Entry keys on disk now: (oldOffset, oldLast]. After this batch: (offset, last].
    const oldOffset = this.cache.firstIndex() - 1;
    const oldLast = this.cache.lastIndex();
    let offset = oldOffset;
    let last = oldLast;
    let lastTerm = this.cache.term(oldLast);

    if (rd.snapshot) {
      const s = rd.snapshot.meta;
      const held = this.cache.snapshot().meta.index;
      if (s.index <= held) throw new StorageError(`persist: snapshot at ${s.index} is not newer than the one held at ${held}`);
      // A snapshot from the leader replaces the whole log.
      ops.push({ type: 'put', key: SNAPSHOT_META_KEY, value: encodeSnapshotRecord(s, { index: s.index, term: s.term }) });
      ops.push({ type: 'put', key: SNAPSHOT_DATA_KEY, value: bufferView(rd.snapshot.data) });
      offset = s.index;
      last = s.index;
      lastTerm = s.term;
    }

    let incoming = rd.entries;
    for (let k = 1; k < incoming.length; k++) {
      if (incoming[k].index !== incoming[k - 1].index + 1) {
        throw new StorageError(`persist: entries are not contiguous: ${incoming[k].index} follows ${incoming[k - 1].index}`);
      }
    }
    // Entries the log has already compacted away are dropped, as MemoryStorage.append does.
    if (incoming.length > 0 && incoming[0].index <= offset) incoming = incoming.slice(offset + 1 - incoming[0].index);
    const cached: Entry[] = [];
    if (incoming.length > 0) {
      const from = incoming[0].index;
      if (from > last + 1) throw new StorageError(`persist: entries from ${from} leave a gap after the last index ${last}`);
      for (const e of incoming) {
        const value = encodeEntry(e);
        ops.push({ type: 'put', key: entryKey(e.index), value });
        // The cache keeps the bytes just encoded, so a caller reusing its buffers cannot make it differ from disk.
        cached.push(decodeEntry(e.index, value));
      }
      last = incoming[incoming.length - 1].index;
      lastTerm = incoming[incoming.length - 1].term;
    }

    // Delete every key leaving the log: below the new compaction point, or past the new last index (a conflicting suffix).
    for (let i = oldOffset + 1; i <= Math.min(oldLast, offset); i++) ops.push({ type: 'del', key: entryKey(i) });
    for (let i = Math.max(oldOffset, last) + 1; i <= oldLast; i++) ops.push({ type: 'del', key: entryKey(i) });

    const current = this.cache.hardStateNow();
    const hs = rd.hardState ?? current;
    if (hs.term < current.term) throw new StorageError(`persist: hard state term ${hs.term} is below the durable term ${current.term}`);
    if (hs.commit > last) throw new StorageError(`persist: hard state commit ${hs.commit} is past the last index ${last} after this Ready`);
    if (hs.term < lastTerm) throw new StorageError(`persist: hard state term ${hs.term} is below the last entry's term ${lastTerm}`);
    if (rd.hardState) ops.push({ type: 'put', key: HARD_STATE_KEY, value: encodeHardState(hs) });
    return { ops, entries: cached };
  }

  /**
   * The durable hard state, written again inside a synced batch whose records depend on its
   * commit index (a snapshot at or below it, a configuration applied at or below it). A
   * commit-only hard state may have been written without fsync; repeating it here means no
   * crash can keep the snapshot or configuration and lose the commit index they rest on.
   */
  private hardStateAgain(): Op {
    return { type: 'put', key: HARD_STATE_KEY, value: encodeHardState(this.cache.hardStateNow()) };
  }

  private async write(what: string, ops: Op[], sync: boolean): Promise<void> {
    // A chained batch costs less per operation than db.batch(array) in abstract-level; it is written as one atomic LevelDB batch all the same.
    const batch = this.db.batch();
    try {
      for (const op of ops) {
        if (op.type === 'put') batch.put(op.key, op.value);
        else batch.del(op.key);
      }
      await batch.write({ sync });
      this.batchesWritten++;
      if (sync) this.syncedBatches++;
    } catch (err) {
      await batch.close(); // idempotent: releases the batch if adding an operation threw before write()
      this.failure = err as Error;
      this.logger.warn({ dir: this.dir, op: what, err: (err as Error).message }, 'storage write failed; refusing further writes');
      throw new StorageError(`${what}: batch write to ${this.dir} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Run `op` after every write issued before it; its outcome goes to its own caller only. */
  private enqueue<T>(what: string, op: () => Promise<T>): Promise<T> {
    const result = this.tail.then(() => {
      if (this.closed) throw new StorageError(`${what}: storage at ${this.dir} is closed`);
      if (this.failure) {
        throw new StorageError(`${what}: an earlier write to ${this.dir} failed (${this.failure.message}); reopen to recover`, { cause: this.failure });
      }
      return op();
    });
    // The chain only orders writes; a refusal reaches the caller through `result`.
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

function encodeHardState(hs: HardState): Buffer {
  return encodeJson({ term: hs.term, vote: hs.vote, commit: hs.commit });
}

function bufferView(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
}

/** Total size of the files in `dir` (LevelDB's tables, log and manifest). */
function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    try {
      total += statSync(join(dir, entry.name)).size;
    } catch (err) {
      // LevelDB deletes obsolete files as it compacts; one gone between listing and stat no longer counts.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return total;
}
