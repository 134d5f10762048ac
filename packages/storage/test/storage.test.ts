import { afterEach, describe, expect, it } from 'vitest';
import { Level } from 'level';
import { CompactedError, type ConfState } from '@bramble/raft';
import { LevelStorage, StorageCorruptionError, StorageError } from '../src/index.js';
import { dataFor, dump, entryKeysOnDisk, makeEntries, range, tempDirs } from './helpers.js';

const dirs = tempDirs();
const open: LevelStorage[] = [];

async function openStorage(dir: string): Promise<LevelStorage> {
  const s = await LevelStorage.open(dir);
  open.push(s);
  return s;
}

/** Close `s`, reopen the same directory, and check the reopened storage reads exactly the same. */
async function reopen(s: LevelStorage): Promise<LevelStorage> {
  const before = dump(s);
  await s.close();
  const again = await openStorage(s.dir);
  expect(dump(again)).toEqual(before);
  return again;
}

afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  dirs.cleanup();
});

const conf3: ConfState = { voters: ['m1', 'm2', 'm3'], learners: [] };

describe('LevelStorage round trips', () => {
  it('a new database reads as an empty log with a zero hard state', async () => {
    const s = await openStorage(dirs.make());
    expect(s.firstIndex()).toBe(1);
    expect(s.lastIndex()).toBe(0);
    expect(s.term(0)).toBe(0);
    expect(s.initialState()).toEqual({ hardState: { term: 0, vote: '', commit: 0 }, confState: { voters: [], learners: [] } });
    expect(s.snapshot().meta.index).toBe(0);
    await reopen(s);
  });

  it('appends entries and hard state, and reads them back after reopening', async () => {
    let s = await openStorage(dirs.make());
    await s.persist({ entries: makeEntries(1, 10, 1), hardState: { term: 1, vote: 'm1', commit: 5 } });
    expect(s.lastIndex()).toBe(10);
    expect(s.term(7)).toBe(1);
    expect(s.entries(3, 6).map((e) => e.index)).toEqual([3, 4, 5]);
    expect(Array.from(s.entries(4, 5)[0].data)).toEqual(Array.from(dataFor(4, 1)));
    s = await reopen(s);
    expect(s.initialState().hardState).toEqual({ term: 1, vote: 'm1', commit: 5 });
    await s.persist({ entries: makeEntries(11, 12, 1), hardState: { term: 1, vote: 'm1', commit: 12 }, mustSync: false });
    s = await reopen(s);
    expect(s.lastIndex()).toBe(12);
  });

  it('honours maxSizeBytes but always returns at least one entry', async () => {
    const s = await openStorage(dirs.make());
    await s.persist({ entries: makeEntries(1, 20, 1), hardState: { term: 1, vote: '', commit: 0 } });
    expect(s.entries(1, 21, 1)).toHaveLength(1);
    expect(s.entries(1, 21, 10_000)).toHaveLength(20);
  });

  it('replaces a conflicting suffix, and the old suffix is gone from disk', async () => {
    const dir = dirs.make();
    let s = await openStorage(dir);
    await s.persist({ entries: makeEntries(1, 10, 1), hardState: { term: 1, vote: 'm1', commit: 3 } });
    await s.persist({ entries: makeEntries(6, 8, 2), hardState: { term: 2, vote: 'm2', commit: 3 } });
    expect(s.lastIndex()).toBe(8);
    expect(s.term(5)).toBe(1);
    expect(s.term(6)).toBe(2);
    s = await reopen(s);
    await s.close();
    expect(await entryKeysOnDisk(dir)).toEqual(range(1, 8));
    s = await openStorage(dir);
    expect(s.entries(6, 9).map((e) => [e.index, e.term])).toEqual([[6, 2], [7, 2], [8, 2]]);
  });

  it('takes a snapshot and compacts the log up to compactTo, atomically', async () => {
    const dir = dirs.make();
    let s = await openStorage(dir);
    await s.persist({ entries: makeEntries(1, 10, 1), hardState: { term: 1, vote: '', commit: 8 } });
    const snap = await s.saveSnapshot(6, conf3, new Uint8Array([1, 2, 3]), 4);
    expect(snap.meta).toEqual({ index: 6, term: 1, confState: conf3 });
    expect(s.firstIndex()).toBe(5);
    expect(s.term(4)).toBe(1);
    expect(() => s.entries(4, 6)).toThrow(CompactedError);
    expect(s.initialState().confState).toEqual(conf3);
    s = await reopen(s);
    await s.close();
    expect(await entryKeysOnDisk(dir)).toEqual(range(5, 10));

    s = await openStorage(dir);
    // compactTo at or below the current compaction point discards nothing more.
    await s.saveSnapshot(7, conf3, new Uint8Array([4]), 2);
    expect(s.firstIndex()).toBe(5);
    await s.saveSnapshot(8, conf3, new Uint8Array([5]), 8);
    expect(s.firstIndex()).toBe(9);
    expect(s.term(8)).toBe(1);
    s = await reopen(s);
    expect(Array.from(s.snapshot().data)).toEqual([5]);
    await s.close();
    expect(await entryKeysOnDisk(dir)).toEqual([9, 10]);
  });

  it("installs a leader's snapshot, replacing the whole log, with the entries that follow it", async () => {
    const dir = dirs.make();
    let s = await openStorage(dir);
    await s.persist({ entries: makeEntries(1, 10, 1), hardState: { term: 1, vote: '', commit: 2 } });
    await s.persist({
      snapshot: { meta: { index: 20, term: 3, confState: conf3 }, data: new Uint8Array([9, 9]) },
      entries: makeEntries(21, 22, 3),
      hardState: { term: 3, vote: '', commit: 20 },
    });
    expect(s.firstIndex()).toBe(21);
    expect(s.lastIndex()).toBe(22);
    expect(s.term(20)).toBe(3);
    s = await reopen(s);
    await s.close();
    expect(await entryKeysOnDisk(dir)).toEqual([21, 22]);
  });

  it('returns the saved conf state while it is at least as recent as the snapshot', async () => {
    let s = await openStorage(dirs.make());
    await s.saveConfState(conf3, 0); // bootstrap
    expect(s.initialState().confState).toEqual(conf3);
    await s.persist({ entries: makeEntries(1, 10, 1), hardState: { term: 1, vote: '', commit: 10 } });
    const four = { voters: ['m1', 'm2', 'm3', 'm4'], learners: [] };
    await s.saveConfState(four, 5);
    s = await reopen(s);
    expect(s.initialState().confState).toEqual(four);
    const five = { voters: ['m1', 'm2', 'm3', 'm4'], learners: ['m5'] };
    await s.saveSnapshot(8, five, new Uint8Array(), 8);
    expect(s.initialState().confState).toEqual(five);
    s = await reopen(s);
    expect(s.initialState().confState).toEqual(five);
  });

  it('writes back-to-back persists in call order', async () => {
    let s = await openStorage(dirs.make());
    const pending: Promise<void>[] = [];
    for (let term = 1; term <= 20; term++) {
      // Each Ready overwrites part of the one before it; only call order gives the right final log.
      const from = Math.max(1, term * 5 - 7);
      pending.push(s.persist({ entries: makeEntries(from, term * 5, term), hardState: { term, vote: '', commit: 0 } }));
    }
    await Promise.all(pending);
    expect(s.lastIndex()).toBe(100);
    expect(s.term(92)).toBe(19);
    expect(s.term(93)).toBe(20);
    s = await reopen(s);
    expect(s.initialState().hardState.term).toBe(20);
  });

  it('reports stats, including bytes on disk', async () => {
    const s = await openStorage(dirs.make());
    await s.persist({ entries: makeEntries(1, 50, 1), hardState: { term: 1, vote: '', commit: 40 } });
    await s.saveSnapshot(40, conf3, new Uint8Array(10), 30);
    const st = s.stats();
    expect(st).toMatchObject({ firstIndex: 31, lastIndex: 50, snapshotIndex: 40, batchesWritten: 2, syncedBatches: 2 });
    expect(st.diskBytes).toBeGreaterThan(0);
  });
});

describe('LevelStorage refuses what would make the log inconsistent', () => {
  it('refuses a Ready that leaves a gap, a commit past the end, a stale term or snapshot, and writes nothing', async () => {
    let s = await openStorage(dirs.make());
    await s.persist({ entries: makeEntries(1, 5, 2), hardState: { term: 2, vote: '', commit: 5 } });
    await s.saveSnapshot(3, conf3, new Uint8Array(), 2);
    await expect(s.persist({ entries: makeEntries(8, 9, 2) })).rejects.toThrow(/entries from 8 leave a gap after the last index 5/);
    await expect(s.persist({ entries: [], hardState: { term: 2, vote: '', commit: 6 } })).rejects.toThrow(/commit 6 is past the last index 5/);
    await expect(s.persist({ entries: [], hardState: { term: 1, vote: '', commit: 5 } })).rejects.toThrow(/term 1 is below the durable term 2/);
    await expect(s.persist({ entries: makeEntries(6, 6, 3) })).rejects.toThrow(/term 2 is below the last entry's term 3/);
    await expect(s.persist({ entries: [], snapshot: { meta: { index: 3, term: 2, confState: conf3 }, data: new Uint8Array() } })).rejects.toThrow(
      /snapshot at 3 is not newer than the one held at 3/,
    );
    await expect(s.saveSnapshot(9, conf3, new Uint8Array(), 9)).rejects.toThrow(StorageError);
    await expect(s.saveSnapshot(9, conf3, new Uint8Array(), 9)).rejects.toThrow(/saveSnapshot at 9: past the durable commit index 5/);
    await expect(s.saveSnapshot(3, conf3, new Uint8Array(), 3)).rejects.toThrow(/already have a snapshot at 3/);
    await expect(s.saveSnapshot(4, conf3, new Uint8Array(), 5)).rejects.toThrow(/compactTo must be an integer <= 4/);
    await expect(s.saveConfState(conf3, 6)).rejects.toThrow(/applied index 6 is past the durable commit index 5/);
    // Nothing above reached the disk, and later writes still work.
    s = await reopen(s);
    expect([s.firstIndex(), s.lastIndex(), s.initialState().hardState.commit]).toEqual([3, 5, 5]);
    await s.persist({ entries: makeEntries(6, 6, 2) });
    expect(s.lastIndex()).toBe(6);
  });

  it('refuses a second open of a directory in use', async () => {
    const dir = dirs.make();
    await openStorage(dir);
    await expect(LevelStorage.open(dir)).rejects.toThrow(/open storage at .*LOCK.*already held/);
  });

  it('refuses writes after close', async () => {
    const s = await openStorage(dirs.make());
    await s.close();
    await expect(s.persist({ entries: makeEntries(1, 1, 1), hardState: { term: 1, vote: '', commit: 0 } })).rejects.toThrow(/is closed/);
  });
});

describe('LevelStorage refuses to open an inconsistent database', () => {
  async function tamper(dir: string, fn: (db: Level<Buffer, Buffer>) => Promise<void>): Promise<void> {
    const db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    try {
      await fn(db);
    } finally {
      await db.close();
    }
  }
  const key = (i: number) => {
    const k = Buffer.alloc(9);
    k[0] = 0x65;
    k.writeUInt32BE(i, 5);
    return k;
  };

  async function seeded(): Promise<string> {
    const dir = dirs.make();
    const s = await LevelStorage.open(dir);
    await s.persist({ entries: makeEntries(1, 10, 1), hardState: { term: 1, vote: '', commit: 4 } });
    await s.close();
    return dir;
  }

  it('names a gap in the log', async () => {
    const dir = await seeded();
    await tamper(dir, (db) => db.del(key(5)));
    await expect(LevelStorage.open(dir)).rejects.toThrow(StorageCorruptionError);
    await expect(LevelStorage.open(dir)).rejects.toThrow(/log has a gap: entry 6 follows 4 \(want 5\)/);
  });

  it('names a commit index past the last entry', async () => {
    const dir = await seeded();
    await tamper(dir, async (db) => {
      for (let i = 4; i <= 10; i++) await db.del(key(i));
    });
    await expect(LevelStorage.open(dir)).rejects.toThrow(/hard state commit 4 is past the last index 3/);
  });

  it('names a hard state term below the last entry', async () => {
    const dir = await seeded();
    await tamper(dir, (db) => db.put(Buffer.from('h'), Buffer.from(JSON.stringify({ term: 0, vote: '', commit: 4 }))));
    await expect(LevelStorage.open(dir)).rejects.toThrow(/hard state term 0 is below the last entry's term 1/);
  });

  it('names an unreadable record', async () => {
    const dir = await seeded();
    await tamper(dir, (db) => db.put(Buffer.from('h'), Buffer.from('{"term":1,"vote":"","commit":-1}')));
    await expect(LevelStorage.open(dir)).rejects.toThrow(/hard state record 'h': commit must be a non-negative integer \(got -1\)/);
  });

  it('refuses a database that is not a Bramble raft log', async () => {
    const dir = dirs.make();
    await tamper(dir, (db) => db.put(Buffer.from('x'), Buffer.from('y')));
    await expect(LevelStorage.open(dir)).rejects.toThrow(/holds data but no format marker/);
  });
});
