import { afterEach, describe, expect, it } from 'vitest';
import { EntryType, RaftNode, Role, seededRandom, type Entry } from '@bramble/raft';
import { LevelStorage } from '../src/index.js';
import { tempDirs } from './helpers.js';

const dirs = tempDirs();
const open: LevelStorage[] = [];

afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  dirs.cleanup();
});

async function openStorage(dir: string): Promise<LevelStorage> {
  const s = await LevelStorage.open(dir);
  open.push(s);
  return s;
}

/** The host loop, in the order the core asks for: persist, (send), apply, advance. Bounded. */
async function drive(node: RaftNode, storage: LevelStorage, applied: Entry[]): Promise<void> {
  for (let round = 0; round < 1000 && node.hasReady(); round++) {
    const rd = node.ready();
    await storage.persist(rd);
    expect(rd.messages).toEqual([]); // a single node has nobody to talk to
    applied.push(...rd.committedEntries);
    node.advance(rd);
  }
  expect(node.hasReady()).toBe(false);
}

const text = (e: Entry) => new TextDecoder().decode(e.data);
const userData = (entries: Entry[]) => entries.filter((e) => e.type === EntryType.Normal && e.data.length > 0).map(text);

describe('the Raft core on LevelStorage', () => {
  it('a single node commits 100 proposals, restarts from disk with the same log and commit, and carries on', async () => {
    const dir = dirs.make();
    let storage = await openStorage(dir);
    await storage.saveConfState({ voters: ['n1'], learners: [] }, 0);
    let node = new RaftNode({ id: 'n1', storage, random: seededRandom(7) });
    node.campaign();
    const applied: Entry[] = [];
    await drive(node, storage, applied);
    expect(node.status().role).toBe(Role.Leader);

    for (let i = 0; i < 100; i++) {
      node.propose(new TextEncoder().encode(`v${i}`));
      if (i % 7 === 0) await drive(node, storage, applied); // Readies of one and of several entries
    }
    await drive(node, storage, applied);
    expect(userData(applied)).toEqual(Array.from({ length: 100 }, (_, i) => `v${i}`));
    const before = node.status();
    expect(before.commit).toBe(before.lastIndex);
    const log = node.entriesFrom(1, before.lastIndex + 1);

    await storage.close();
    storage = await openStorage(dir);
    expect(storage.lastIndex()).toBe(before.lastIndex);
    expect(storage.initialState().hardState).toEqual({ term: before.term, vote: before.vote, commit: before.commit });

    // Restart knowing nothing was applied: the core hands the whole committed log out again.
    node = new RaftNode({ id: 'n1', storage, random: seededRandom(8) });
    expect(node.status()).toMatchObject({ term: before.term, commit: before.commit, lastIndex: before.lastIndex, role: Role.Follower });
    expect(node.entriesFrom(1, before.lastIndex + 1)).toEqual(log);
    const reapplied: Entry[] = [];
    await drive(node, storage, reapplied);
    expect(reapplied).toEqual(applied);

    node.campaign();
    await drive(node, storage, reapplied);
    node.propose(new TextEncoder().encode('after restart'));
    await drive(node, storage, reapplied);
    const after = node.status();
    expect(after.term).toBeGreaterThan(before.term);
    expect(after.commit).toBe(before.lastIndex + 2); // the new leader's no-op, then the proposal
    expect(text(reapplied[reapplied.length - 1])).toBe('after restart');
  });

  it('restarts from a snapshot plus the log after it', async () => {
    const dir = dirs.make();
    let storage = await openStorage(dir);
    await storage.saveConfState({ voters: ['n1'], learners: [] }, 0);
    let node = new RaftNode({ id: 'n1', storage, random: seededRandom(1) });
    node.campaign();
    const applied: Entry[] = [];
    for (let i = 0; i < 60; i++) {
      node.propose(new TextEncoder().encode(`v${i}`));
      await drive(node, storage, applied);
    }
    const snapIndex = applied[40].index;
    await storage.saveSnapshot(snapIndex, node.confState(), new TextEncoder().encode(`state@${snapIndex}`), snapIndex - 10);
    const before = node.status();

    await storage.close();
    storage = await openStorage(dir);
    expect(storage.firstIndex()).toBe(snapIndex - 9);
    node = new RaftNode({ id: 'n1', storage, random: seededRandom(2), applied: storage.snapshot().meta.index });
    expect(node.status()).toMatchObject({ term: before.term, commit: before.commit, lastIndex: before.lastIndex, applied: snapIndex });
    expect(node.confState()).toEqual({ voters: ['n1'], learners: [] });
    const reapplied: Entry[] = [];
    await drive(node, storage, reapplied);
    expect(reapplied).toEqual(applied.filter((e) => e.index > snapIndex));
  });
});
