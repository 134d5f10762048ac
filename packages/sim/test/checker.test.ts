import { describe, expect, it } from 'vitest';
import { EntryType, type Entry } from '@bramble/raft';
import { SafetyChecker } from '../src/checker.js';

const enc = new TextEncoder();
function entry(index: number, term: number, text = `e${index}`): Entry {
  return { index, term, type: EntryType.Normal, data: enc.encode(text) };
}
function newChecker(): SafetyChecker {
  return new SafetyChecker(() => ({ step: 7, time: 70 }));
}
function logOf(entries: Entry[]): (i: number) => number | undefined {
  return (i) => (i === 0 ? 0 : entries.find((e) => e.index === i)?.term);
}

describe('SafetyChecker', () => {
  it('election safety: one leader per term', () => {
    const c = newChecker();
    expect(c.onLeader('m1', 3)).toBeUndefined();
    expect(c.onLeader('m1', 3)).toBeUndefined();
    expect(c.onLeader('m2', 4)).toBeUndefined();
    expect(c.onLeader('m2', 3)).toMatchObject({ kind: 'election-safety', step: 7, time: 70, node: 'm2' });
    expect(c.elections()).toBe(2);
  });

  it('log matching: same (index, term) means same entry and same predecessor', () => {
    const c = newChecker();
    expect(c.onEntries('m1', [entry(1, 1), entry(2, 1)], 0)).toBeUndefined();
    expect(c.onEntries('m2', [entry(2, 1)], 1)).toBeUndefined();
    expect(c.onEntries('m3', [entry(2, 1, 'other')], 1)).toMatchObject({ kind: 'log-matching', node: 'm3' });
    expect(c.onEntries('m3', [entry(2, 1)], 0)?.kind).toBe('log-matching');
    expect(c.onEntries('m3', [entry(3, 2), entry(5, 2)], 1)?.detail).toMatch(/gap/);
    expect(c.onEntries('m3', [entry(3, 2), entry(4, 1)], 1)?.detail).toMatch(/lower than/);
  });

  it('leader completeness: a new leader holds every committed entry past its snapshot', () => {
    const c = newChecker();
    const log = [entry(1, 1), entry(2, 1), entry(3, 2)];
    expect(c.onCommit('m1', 0, 3, logOf(log))).toBeUndefined();
    expect(c.checkLeaderCompleteness('m2', 3, 0, logOf(log))).toBeUndefined();
    expect(c.checkLeaderCompleteness('m2', 3, 0, logOf([entry(1, 1), entry(2, 1)]))?.kind).toBe('leader-completeness');
    expect(c.checkLeaderCompleteness('m2', 3, 0, logOf([entry(1, 1), entry(2, 1), entry(3, 3)]))?.kind).toBe('leader-completeness');
    // Compacted entries are covered by the snapshot.
    expect(c.checkLeaderCompleteness('m2', 3, 2, logOf([entry(3, 2)]))).toBeUndefined();
  });

  it('committed entries never change term', () => {
    const c = newChecker();
    expect(c.onCommit('m1', 0, 2, logOf([entry(1, 1), entry(2, 1)]))).toBeUndefined();
    expect(c.onCommit('m2', 0, 2, logOf([entry(1, 1), entry(2, 2)]))?.kind).toBe('committed-entry-conflict');
    expect(c.onSnapshot('m3', { index: 2, term: 3, confState: { voters: [], learners: [] } })?.kind).toBe('committed-entry-conflict');
  });

  it('state machine safety: same entry applied at an index everywhere, in order', () => {
    const c = newChecker();
    expect(c.onApply('m1', entry(1, 1), 0)).toBeUndefined();
    expect(c.onApply('m2', entry(1, 1), 0)).toBeUndefined();
    expect(c.onApply('m3', entry(1, 1, 'x'), 0)?.kind).toBe('state-machine-safety');
    expect(c.onApply('m3', entry(3, 1), 1)?.detail).toMatch(/in order/);
    expect(c.onSnapshotCreated('m1', 5, enc.encode('a'))).toBeUndefined();
    expect(c.onSnapshotCreated('m2', 5, enc.encode('b'))?.kind).toBe('state-machine-safety');
  });

  it('a client op is applied at one index only', () => {
    const c = newChecker();
    expect(c.onOpApplied('m1', 42, 5)).toBeUndefined();
    expect(c.onOpApplied('m2', 42, 5)).toBeUndefined();
    expect(c.onOpApplied('m2', 42, 6)?.kind).toBe('duplicate-apply');
  });
});
