// Unit tests of the log: RaftLog (log.ts), Unstable (unstable.ts) and MemoryStorage (storage.ts).
import { describe, expect, it } from 'vitest';
import { CompactedError, EntryType, MemoryStorage, RaftInvariantError, RaftLog, UnavailableError, entrySizeBytes, limitSize, type Entry } from '../src/index.js';
import { entriesWithTerms, entry, ids } from './harness.js';

const CONF = { voters: ['a'], learners: [] };

function storageOf(terms: number[]): MemoryStorage {
  const s = new MemoryStorage(CONF);
  s.append(entriesWithTerms(terms));
  return s;
}

/** A RaftLog over a storage holding `stable`, with `unstable` appended (not yet persisted). */
function logOf(stable: number[], unstable: Entry[] = [], maxCommittedBytes = Number.MAX_SAFE_INTEGER): RaftLog {
  const log = new RaftLog(storageOf(stable), maxCommittedBytes);
  if (unstable.length > 0) log.append(unstable);
  return log;
}

const all = (log: RaftLog) => ids(log.slice(log.firstIndex(), log.lastIndex() + 1));

describe('RaftLog.findConflict', () => {
  // Our log: 1@1 2@2 3@3.
  const cases: [Entry[], number][] = [
    [[], 0],
    [[entry(1, 1), entry(2, 2), entry(3, 3)], 0],
    [[entry(2, 2), entry(3, 3)], 0],
    [[entry(3, 3)], 0],
    [[entry(1, 1), entry(2, 2), entry(3, 3), entry(4, 4), entry(5, 4)], 4], // new entries only
    [[entry(2, 2), entry(3, 3), entry(4, 4), entry(5, 4)], 4],
    [[entry(3, 3), entry(4, 4), entry(5, 4)], 4],
    [[entry(4, 4), entry(5, 4)], 4],
    [[entry(1, 4), entry(2, 4)], 1], // conflicts
    [[entry(2, 1), entry(3, 4), entry(4, 4)], 2],
    [[entry(3, 1), entry(4, 2), entry(5, 4), entry(6, 4)], 3],
  ];
  for (const [ents, want] of cases) {
    it(`[${ids(ents).join(' ')}] → ${want}`, () => {
      expect(logOf([1, 2, 3]).findConflict(ents)).toBe(want);
    });
  }
});

describe('RaftLog.maybeAppend (AppendEntries receiver, Figure 2 rules 2-5)', () => {
  // Our log: 1@1 2@2 3@3, committed 1. [prevIndex, prevTerm, leaderCommit, entries] → [lastNew, commit, log]
  const cases: [string, number, number, number, Entry[], number | undefined, number, string[]][] = [
    ['prev term mismatch', 3, 2, 3, [entry(4, 4)], undefined, 1, ['1@1', '2@2', '3@3']],
    ['prev beyond the log', 4, 4, 3, [entry(5, 4)], undefined, 1, ['1@1', '2@2', '3@3']],
    ['heartbeat-like, commit follows', 3, 3, 3, [], 3, 3, ['1@1', '2@2', '3@3']],
    ['leaderCommit beyond last new entry', 3, 3, 4, [], 3, 3, ['1@1', '2@2', '3@3']],
    ['leaderCommit below', 3, 3, 2, [], 3, 2, ['1@1', '2@2', '3@3']],
    ['commit never decreases', 3, 3, 0, [], 3, 1, ['1@1', '2@2', '3@3']],
    ['prev 0', 0, 0, 3, [], 0, 1, ['1@1', '2@2', '3@3']],
    ['one new entry', 3, 3, 3, [entry(4, 4)], 4, 3, ['1@1', '2@2', '3@3', '4@4']],
    ['one new entry, commit to it', 3, 3, 5, [entry(4, 4)], 4, 4, ['1@1', '2@2', '3@3', '4@4']],
    ['two new entries', 3, 3, 5, [entry(4, 4), entry(5, 4)], 5, 5, ['1@1', '2@2', '3@3', '4@4', '5@4']],
    ['conflict at the last entry', 2, 2, 3, [entry(3, 4)], 3, 3, ['1@1', '2@2', '3@4']],
    ['conflict in the middle truncates the rest', 1, 1, 3, [entry(2, 4)], 2, 2, ['1@1', '2@4']],
    ['matching shorter append does not truncate', 1, 1, 3, [entry(2, 2)], 2, 2, ['1@1', '2@2', '3@3']],
  ];
  for (const [name, prev, prevTerm, commit, ents, lastNew, wantCommit, wantLog] of cases) {
    it(name, () => {
      const log = logOf([1, 2, 3]);
      log.commitTo(1);
      expect(log.maybeAppend(prev, prevTerm, commit, ents)).toBe(lastNew);
      expect(log.committed).toBe(wantCommit);
      expect(all(log)).toEqual(wantLog);
    });
  }

  it('refuses to overwrite a committed entry', () => {
    const log = logOf([1, 2, 3]);
    log.commitTo(1);
    expect(() => log.maybeAppend(0, 0, 3, [entry(1, 4)])).toThrow(RaftInvariantError);
    expect(() => log.append([entry(1, 4)])).toThrow(/would overwrite committed/);
  });
});

describe('RaftLog.findConflictByTerm (fast back-off)', () => {
  // 1@2 2@2 3@5 4@5 5@5
  const cases: [number, number, number, number][] = [
    [5, 6, 5, 5],
    [5, 5, 5, 5],
    [5, 4, 2, 2],
    [5, 2, 2, 2],
    [5, 1, 0, 0],
    [1, 2, 1, 2],
    [1, 1, 0, 0],
    [0, 0, 0, 0],
  ];
  for (const [index, term, wantIndex, wantTerm] of cases) {
    it(`(${index}, term ${term}) → (${wantIndex}, term ${wantTerm})`, () => {
      expect(logOf([2, 2, 5, 5, 5]).findConflictByTerm(index, term)).toEqual({ index: wantIndex, term: wantTerm });
    });
  }

  it('stops at the compaction point: the snapshot term is known, what is before it is not', () => {
    const s = storageOf([2, 2, 5, 5, 5]);
    s.createSnapshot(2, CONF, new Uint8Array());
    s.compact(2);
    const log = new RaftLog(s, 1 << 20);
    expect(log.findConflictByTerm(5, 4)).toEqual({ index: 2, term: 2 });
    expect(log.findConflictByTerm(5, 1)).toEqual({ index: 1, term: 0 });
  });
});

describe('RaftLog.slice with size limits, across the storage/unstable boundary', () => {
  // Storage: 1..3; unstable: 4..6; every entry is 27 bytes (24 + "i@t").
  const log = () => logOf([1, 1, 1], [entry(4, 1), entry(5, 1), entry(6, 1)]);
  const size = entrySizeBytes(entry(1, 1));

  it('entries are 27 bytes here', () => expect(size).toBe(27));
  const cases: [number, number, number | undefined, string[]][] = [
    [1, 7, undefined, ['1@1', '2@1', '3@1', '4@1', '5@1', '6@1']],
    [2, 6, size, ['2@1']],
    [2, 6, 2 * size, ['2@1', '3@1']],
    [2, 6, 3 * size - 1, ['2@1', '3@1']],
    [2, 6, 3 * size, ['2@1', '3@1', '4@1']],
    [3, 6, 2 * size, ['3@1', '4@1']],
    [2, 7, 100 * size, ['2@1', '3@1', '4@1', '5@1', '6@1']],
    [4, 6, 1, ['4@1']], // at least one, even above the limit
    [2, 6, 1, ['2@1']],
    [4, 4, undefined, []],
  ];
  for (const [lo, hi, max, want] of cases) {
    it(`[${lo}, ${hi}) max ${max ?? '∞'} → ${want.join(' ') || '(none)'}`, () => {
      expect(ids(log().slice(lo, hi, max))).toEqual(want);
    });
  }

  it('throws CompactedError below the first index and UnavailableError past the end', () => {
    const s = storageOf([1, 1, 1, 1]);
    s.createSnapshot(2, CONF, new Uint8Array());
    s.compact(2);
    const l = new RaftLog(s, 1 << 20);
    expect(() => l.slice(2, 4)).toThrow(CompactedError);
    expect(() => l.slice(3, 6)).toThrow(UnavailableError);
    expect(ids(l.slice(3, 5))).toEqual(['3@1', '4@1']);
  });
});

describe('RaftLog: terms, commit, apply', () => {
  it('term(): the dummy entry answers the snapshot term; outside the log is undefined', () => {
    const s = storageOf([1, 2, 3, 4]);
    s.createSnapshot(2, CONF, new Uint8Array());
    s.compact(2);
    const l = new RaftLog(s, 1 << 20);
    expect([l.term(1), l.term(2), l.term(3), l.term(4), l.term(5)]).toEqual([undefined, 2, 3, 4, undefined]);
    l.append([entry(5, 5)]);
    expect([l.term(5), l.lastIndex(), l.lastTerm()]).toEqual([5, 5, 5]);
  });

  it('isUpToDate (§5.4.1): higher last term wins, then the longer log', () => {
    const l = logOf([1, 2, 2]);
    expect(l.isUpToDate(3, 2)).toBe(true);
    expect(l.isUpToDate(4, 2)).toBe(true);
    expect(l.isUpToDate(2, 2)).toBe(false);
    expect(l.isUpToDate(1, 3)).toBe(true);
    expect(l.isUpToDate(9, 1)).toBe(false);
  });

  it('maybeCommit commits only an entry of the given term (Figure 8)', () => {
    const l = logOf([1, 1, 2]);
    expect(l.maybeCommit(2, 2)).toBe(false);
    expect(l.committed).toBe(0);
    expect(l.maybeCommit(3, 2)).toBe(true);
    expect(l.committed).toBe(3);
    expect(l.maybeCommit(2, 1)).toBe(false); // never backwards
  });

  it('commitTo and appliedTo refuse impossible positions', () => {
    const l = logOf([1, 1, 1]);
    expect(() => l.commitTo(4)).toThrow(RaftInvariantError);
    l.commitTo(2);
    l.commitTo(1); // a lower commit is ignored
    expect(l.committed).toBe(2);
    expect(() => l.appliedTo(3)).toThrow(/out of range/);
    l.appliedTo(2);
    expect(() => l.appliedTo(1)).toThrow(/out of range/);
  });

  it('nextCommittedEntries hands out committed entries after what is applied, bounded in bytes', () => {
    const l = logOf([1, 1, 1, 1, 1], [], 2 * 27);
    l.commitTo(4);
    expect(l.hasNextCommittedEntries(0)).toBe(true);
    expect(ids(l.nextCommittedEntries(0))).toEqual(['1@1', '2@1']);
    expect(ids(l.nextCommittedEntries(2))).toEqual(['3@1', '4@1']);
    expect(l.nextCommittedEntries(4)).toEqual([]);
    expect(l.hasNextCommittedEntries(4)).toBe(false);
  });
});

describe('Unstable', () => {
  it('stableTo forgets persisted entries only while they are still the ones persisted', () => {
    const l = logOf([1], [entry(2, 1), entry(3, 1)]);
    l.unstable.stableTo(3, 2); // wrong term: the entry was replaced meanwhile
    expect(l.unstable.entries).toHaveLength(2);
    l.unstable.stableTo(2, 1);
    expect(ids(l.unstable.entries)).toEqual(['3@1']);
    expect(l.unstable.offset).toBe(3);
  });

  it('truncateAndAppend: append, replace a suffix, or replace everything unstable (and the stable suffix)', () => {
    const l = logOf([1, 1], [entry(3, 1), entry(4, 1)]);
    l.append([entry(5, 1)]);
    expect(all(l)).toEqual(['1@1', '2@1', '3@1', '4@1', '5@1']);
    l.append([entry(4, 2)]);
    expect(all(l)).toEqual(['1@1', '2@1', '3@1', '4@2']);
    l.append([entry(2, 3)]); // below the unstable offset: the stable 2@1 is superseded too
    expect(all(l)).toEqual(['1@1', '2@3']);
    expect(l.unstable.offset).toBe(2);
  });
});

describe('MemoryStorage', () => {
  it('append replaces an overlapping suffix', () => {
    const s = storageOf([1, 1, 1, 1, 1]);
    s.append([entry(3, 2), entry(4, 2)]);
    expect(s.lastIndex()).toBe(4);
    expect(ids(s.entries(1, 5))).toEqual(['1@1', '2@1', '3@2', '4@2']);
  });

  it('append ignores what is already compacted and refuses a gap', () => {
    const s = storageOf([1, 1, 1, 1]);
    s.createSnapshot(3, CONF, new Uint8Array());
    s.compact(3);
    s.append([entry(1, 1), entry(2, 1)]); // all compacted
    expect([s.firstIndex(), s.lastIndex()]).toEqual([4, 4]);
    s.append([entry(2, 1), entry(3, 1), entry(4, 1), entry(5, 1)]); // partly compacted
    expect(ids(s.entries(4, 6))).toEqual(['4@1', '5@1']);
    expect(() => s.append([entry(7, 1)])).toThrow(/leaves a gap/);
  });

  it('entries and term report what was compacted and what does not exist', () => {
    const s = storageOf([1, 2, 3, 4, 5]);
    s.createSnapshot(2, CONF, new Uint8Array());
    s.compact(2);
    expect(() => s.entries(2, 4)).toThrow(CompactedError);
    expect(() => s.entries(3, 7)).toThrow(UnavailableError);
    expect(s.term(2)).toBe(2); // the snapshot's term
    expect(() => s.term(1)).toThrow(CompactedError);
    expect(() => s.term(6)).toThrow(UnavailableError);
    expect(s.entries(3, 3)).toEqual([]);
    expect(ids(s.entries(3, 6, 1))).toEqual(['3@3']); // size limit keeps at least one
  });

  it('compact discards up to and including the index', () => {
    const s = storageOf([1, 1, 2, 2]);
    s.compact(2);
    expect([s.firstIndex(), s.lastIndex(), s.term(2)]).toEqual([3, 4, 1]);
    expect(() => s.compact(2)).toThrow(CompactedError);
    expect(() => s.compact(5)).toThrow(UnavailableError);
    s.compact(4);
    expect([s.firstIndex(), s.lastIndex()]).toEqual([5, 4]);
  });

  it('createSnapshot records index, term and configuration; refuses old or future indexes', () => {
    const s = storageOf([1, 2, 2]);
    const snap = s.createSnapshot(2, { voters: ['a', 'b'], learners: ['c'] }, new Uint8Array([7]));
    expect(snap.meta).toEqual({ index: 2, term: 2, confState: { voters: ['a', 'b'], learners: ['c'] } });
    expect(s.snapshot()).toBe(snap);
    expect(() => s.createSnapshot(2, CONF, new Uint8Array())).toThrow(CompactedError);
    expect(() => s.createSnapshot(4, CONF, new Uint8Array())).toThrow(UnavailableError);
    expect(s.initialState().confState).toEqual({ voters: ['a', 'b'], learners: ['c'] });
  });

  it('applySnapshot replaces the whole log; an older snapshot is refused', () => {
    const s = storageOf([1, 1, 1]);
    s.applySnapshot({ meta: { index: 10, term: 4, confState: CONF }, data: new Uint8Array() });
    expect([s.firstIndex(), s.lastIndex(), s.term(10)]).toEqual([11, 10, 4]);
    expect(() => s.applySnapshot({ meta: { index: 9, term: 4, confState: CONF }, data: new Uint8Array() })).toThrow(RaftInvariantError);
  });

  it('initialState hands out copies', () => {
    const s = new MemoryStorage({ voters: ['a'], learners: [] });
    s.setHardState({ term: 3, vote: 'a', commit: 0 });
    const st = s.initialState();
    st.hardState.term = 99;
    st.confState.voters.push('zz');
    expect(s.initialState()).toEqual({ hardState: { term: 3, vote: 'a', commit: 0 }, confState: { voters: ['a'], learners: [] } });
  });

  it('limitSize keeps at least one entry and stops before the limit is exceeded', () => {
    const ents = [entry(1, 1), entry(2, 1), { index: 3, term: 1, type: EntryType.Normal, data: new Uint8Array(100) }];
    expect(limitSize(ents, undefined)).toHaveLength(3);
    expect(limitSize(ents, 0)).toHaveLength(1);
    expect(limitSize(ents, 54)).toHaveLength(2);
    expect(limitSize(ents, 54 + 123)).toHaveLength(2); // the third is 124 bytes
    expect(limitSize(ents, 54 + 124)).toHaveLength(3);
  });
});
