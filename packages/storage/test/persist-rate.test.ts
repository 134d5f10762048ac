// Persist rate: how many synced batches per second, and how many entries per
// second when each Ready carries a few hundred 100-byte entries. A Ready should
// cost about one fsync whatever its size, so the two per-batch times should be
// close to each other and to a bare fsync of the same disk.
// Times are printed, not asserted: they depend on the machine. What is asserted
// is the count: one synced batch per Ready.

import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EntryType, type Entry } from '@bramble/raft';
import { LevelStorage } from '../src/index.js';
import { tempDirs } from './helpers.js';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const ENTRY_BYTES = 100;
const ENTRIES_PER_READY = 300;
const SMALL_READIES = 200;
const LARGE_READIES = 40;

function readyOf(from: number, count: number, term: number): { entries: Entry[]; hardState: { term: number; vote: string; commit: number } } {
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) entries.push({ index: from + i, term, type: EntryType.Normal, data: new Uint8Array(ENTRY_BYTES).fill(i & 0xff) });
  return { entries, hardState: { term, vote: 'm1', commit: Math.max(0, from - 1) } };
}

/** Milliseconds per fsync of a small append to a plain file in `dir`: the floor a synced batch cannot beat. */
function bareFsyncMs(dir: string, rounds: number): number {
  const fd = openSync(join(dir, 'fsync-probe'), 'a');
  const buf = Buffer.alloc(ENTRY_BYTES);
  const start = performance.now();
  for (let i = 0; i < rounds; i++) {
    writeSync(fd, buf);
    fsyncSync(fd);
  }
  const ms = (performance.now() - start) / rounds;
  closeSync(fd);
  return ms;
}

describe('persist rate', () => {
  it(`a Ready of ${ENTRIES_PER_READY} entries costs about one fsync`, async () => {
    const dir = dirs.make();
    const storage = await LevelStorage.open(dir);
    try {
      let next = 1;
      // Warm up: open files, first log block.
      for (let i = 0; i < 5; i++) await storage.persist(readyOf(next++, 1, 1));

      let start = performance.now();
      for (let i = 0; i < SMALL_READIES; i++) await storage.persist(readyOf(next++, 1, 1));
      const smallMs = (performance.now() - start) / SMALL_READIES;

      const syncedBefore = storage.stats().syncedBatches;
      start = performance.now();
      for (let i = 0; i < LARGE_READIES; i++) {
        await storage.persist(readyOf(next, ENTRIES_PER_READY, 1));
        next += ENTRIES_PER_READY;
      }
      const largeMs = (performance.now() - start) / LARGE_READIES;
      const fsyncMs = bareFsyncMs(join(dir, '..'), SMALL_READIES);

      console.log(
        [
          `bare fsync:                 ${fsyncMs.toFixed(3)} ms  (${Math.round(1000 / fsyncMs)} fsyncs/s)`,
          `persist, 1 entry/Ready:     ${smallMs.toFixed(3)} ms  (${Math.round(1000 / smallMs)} synced batches/s)`,
          `persist, ${ENTRIES_PER_READY} entries/Ready: ${largeMs.toFixed(3)} ms  (${Math.round(1000 / largeMs)} synced batches/s, ${Math.round((ENTRIES_PER_READY * 1000) / largeMs)} entries/s)`,
          `large/small Ready time: ${(largeMs / smallMs).toFixed(2)}x`,
        ].join('\n'),
      );
      expect(storage.lastIndex()).toBe(next - 1);
      expect(storage.stats().syncedBatches - syncedBefore).toBe(LARGE_READIES);
    } finally {
      await storage.close();
    }
  });
});
