// Opening an existing database: read every record back, check that together they
// describe a state this package could have written, and rebuild the in-memory
// cache the synchronous Storage reads are served from.

import { MemoryStorage, type Entry, type HardState } from '@bramble/raft';
import type { Level } from 'level';
import { decodeConfRecord, decodeEntry, decodeHardState, decodeSnapshotRecord, type ConfRecord, type SnapshotRecord } from './codec.js';
import { StorageCorruptionError } from './errors.js';
import {
  CONF_STATE_KEY,
  ENTRY_RANGE_END,
  ENTRY_RANGE_START,
  FORMAT_VERSION,
  HARD_STATE_KEY,
  SNAPSHOT_DATA_KEY,
  SNAPSHOT_META_KEY,
  VERSION_KEY,
  entryIndexOf,
} from './keys.js';

export type Db = Level<Buffer, Buffer>;

export interface Recovered {
  cache: MemoryStorage;
  conf: ConfRecord | undefined;
  /** True when the database was empty and has just been initialized. */
  created: boolean;
}

const EMPTY = new Uint8Array(0);
/** Entries read per iterator round trip while loading the log. */
const LOAD_BATCH_ENTRIES = 1024;

export async function recover(db: Db, dir: string): Promise<Recovered> {
  const [version, hsValue, confValue, metaValue, dataValue] = await db.getMany([VERSION_KEY, HARD_STATE_KEY, CONF_STATE_KEY, SNAPSHOT_META_KEY, SNAPSHOT_DATA_KEY]);
  const where = `storage at ${dir}`;

  if (version === undefined) {
    if (await hasAnyKey(db)) throw new StorageCorruptionError(`${where}: holds data but no format marker 'v'; not a Bramble raft log`);
    await db.put(VERSION_KEY, Buffer.from(FORMAT_VERSION), { sync: true });
    return { cache: new MemoryStorage(), conf: undefined, created: true };
  }
  if (version.toString('utf8') !== FORMAT_VERSION) {
    throw new StorageCorruptionError(`${where}: format is '${version.toString('utf8')}', this build reads '${FORMAT_VERSION}'`);
  }

  const hardState: HardState = hsValue ? decodeHardState(hsValue) : { term: 0, vote: '', commit: 0 };
  const conf = confValue ? decodeConfRecord(confValue) : undefined;
  if ((metaValue === undefined) !== (dataValue === undefined)) {
    throw new StorageCorruptionError(`${where}: snapshot ${metaValue ? "metadata 'sm' has no data 'sd'" : "data 'sd' has no metadata 'sm'"}`);
  }
  const snap: SnapshotRecord | undefined = metaValue ? decodeSnapshotRecord(metaValue) : undefined;
  const compacted = snap?.compacted ?? { index: 0, term: 0 };
  if (snap && compacted.index > snap.meta.index) {
    throw new StorageCorruptionError(`${where}: log compacted to ${compacted.index}, past the snapshot at ${snap.meta.index}`);
  }

  const entries = await loadEntries(db, where, compacted.index);
  const lastIndex = entries.length > 0 ? entries[entries.length - 1].index : compacted.index;
  const lastTerm = entries.length > 0 ? entries[entries.length - 1].term : compacted.term;

  const cache = new MemoryStorage();
  if (snap) {
    const s = snap.meta;
    if (s.index > lastIndex) throw new StorageCorruptionError(`${where}: snapshot at ${s.index} is past the last index ${lastIndex}`);
    if (compacted.index === s.index) {
      if (compacted.term !== s.term) {
        throw new StorageCorruptionError(`${where}: log compacted at ${compacted.index} term ${compacted.term}, but the snapshot there has term ${s.term}`);
      }
      cache.applySnapshot({ meta: s, data: dataValue as Uint8Array });
    } else {
      // Compacted short of the snapshot: start the log at the compaction point, then record the snapshot inside it.
      if (compacted.index > 0) cache.applySnapshot({ meta: { index: compacted.index, term: compacted.term, confState: s.confState }, data: EMPTY });
      cache.append(entries);
      const termAt = cache.term(s.index);
      if (termAt !== s.term) throw new StorageCorruptionError(`${where}: snapshot at ${s.index} has term ${s.term}, but entry ${s.index} has term ${termAt}`);
      cache.createSnapshot(s.index, s.confState, dataValue as Uint8Array);
    }
  }
  if (!snap || compacted.index === snap.meta.index) cache.append(entries);

  const snapshotIndex = snap?.meta.index ?? 0;
  if (hardState.commit > lastIndex) {
    throw new StorageCorruptionError(`${where}: hard state commit ${hardState.commit} is past the last index ${lastIndex}`);
  }
  if (hardState.commit < snapshotIndex) {
    throw new StorageCorruptionError(`${where}: hard state commit ${hardState.commit} is below the snapshot at ${snapshotIndex}`);
  }
  if (hardState.term < lastTerm) {
    throw new StorageCorruptionError(`${where}: hard state term ${hardState.term} is below the last entry's term ${lastTerm} (index ${lastIndex})`);
  }
  if (conf && conf.appliedIndex > hardState.commit) {
    throw new StorageCorruptionError(`${where}: conf state applied at ${conf.appliedIndex}, past the commit index ${hardState.commit}`);
  }
  cache.setHardState(hardState);
  return { cache, conf, created: false };
}

/** The entries after the compaction point, checked to be contiguous from `compactedIndex + 1`. */
async function loadEntries(db: Db, where: string, compactedIndex: number): Promise<Entry[]> {
  const entries: Entry[] = [];
  const it = db.iterator({ gte: ENTRY_RANGE_START, lt: ENTRY_RANGE_END });
  try {
    let expected = compactedIndex + 1;
    for (;;) {
      const batch = await it.nextv(LOAD_BATCH_ENTRIES);
      if (batch.length === 0) break;
      for (const [key, value] of batch) {
        const index = entryIndexOf(key);
        if (index !== expected) {
          if (index <= compactedIndex) throw new StorageCorruptionError(`${where}: entry ${index} is at or below the compaction point ${compactedIndex}`);
          throw new StorageCorruptionError(`${where}: log has a gap: entry ${index} follows ${expected - 1} (want ${expected})`);
        }
        entries.push(decodeEntry(index, value));
        expected++;
      }
    }
  } finally {
    await it.close();
  }
  return entries;
}

async function hasAnyKey(db: Db): Promise<boolean> {
  const keys = await db.keys({ limit: 1 }).all();
  return keys.length > 0;
}

