import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { EntryType, type Entry } from '@bramble/raft';
import type { LevelStorage } from '../src/index.js';
import { dataFor } from './fixtures/derive.mjs';

export { dataFor, snapshotDataFor } from './fixtures/derive.mjs';

/** A fresh directory under the OS temp dir; `cleanup` removes every one made. */
export function tempDirs(): { make(name?: string): string; cleanup(): void } {
  const made: string[] = [];
  return {
    make(name = 'db') {
      const dir = mkdtempSync(join(tmpdir(), 'bramble-storage-'));
      made.push(dir);
      return join(dir, name);
    },
    cleanup() {
      for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function makeEntries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term, type: EntryType.Normal, data: dataFor(i, term) });
  return out;
}

/** Everything the Raft core can read, as plain data for comparisons. */
export function dump(s: LevelStorage) {
  const first = s.firstIndex();
  const last = s.lastIndex();
  const snap = s.snapshot();
  return {
    firstIndex: first,
    lastIndex: last,
    offsetTerm: s.term(first - 1),
    entries: s.entries(first, last + 1).map((e) => ({ index: e.index, term: e.term, type: e.type, data: Array.from(e.data) })),
    initialState: s.initialState(),
    snapshot: { meta: snap.meta, data: Array.from(snap.data) },
  };
}

/** The entry indexes present on disk, read straight from LevelDB (the storage must be closed). */
export async function entryKeysOnDisk(dir: string): Promise<number[]> {
  const db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    const keys = await db.keys({ gte: Buffer.from('e'), lt: Buffer.from('f') }).all();
    return keys.map((k) => k.readUInt32BE(1) * 2 ** 32 + k.readUInt32BE(5));
  } finally {
    await db.close();
  }
}

export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}
