// Unit tests of the leader's bookkeeping: Inflights (inflights.ts), Progress
// (progress.ts) and the quorum arithmetic (quorum.ts).
import { describe, expect, it } from 'vitest';
import { Inflights, Progress, committedIndex, majority, voteResult } from '../src/index.js';

describe('Inflights: a bounded window of unacknowledged AppendEntries', () => {
  it('is full at the count bound', () => {
    const w = new Inflights(3, 1 << 20);
    w.add(1, 10);
    w.add(2, 10);
    expect(w.full()).toBe(false);
    w.add(3, 10);
    expect([w.count, w.full()]).toEqual([3, true]);
    w.freeLE(1);
    expect([w.count, w.full()]).toEqual([2, false]);
  });

  it('is full at the byte bound', () => {
    const w = new Inflights(100, 100);
    w.add(1, 60);
    expect(w.full()).toBe(false);
    w.add(2, 40);
    expect([w.sizeBytes, w.full()]).toEqual([100, true]);
    w.freeLE(1);
    expect([w.sizeBytes, w.full()]).toEqual([40, false]);
  });

  it('a single message larger than the byte bound fills the window alone', () => {
    const w = new Inflights(100, 100);
    w.add(1, 500);
    expect(w.full()).toBe(true);
    w.freeLE(1);
    expect([w.count, w.sizeBytes, w.full()]).toEqual([0, 0, false]);
  });

  it('freeLE frees every message up to the index, oldest first, and nothing else', () => {
    const w = new Inflights(10, 1000);
    for (const [i, b] of [[2, 1], [4, 2], [6, 4], [8, 8]] as const) w.add(i, b);
    w.freeLE(1);
    expect([w.count, w.sizeBytes]).toEqual([4, 15]);
    w.freeLE(5); // 2 and 4
    expect([w.count, w.sizeBytes]).toEqual([2, 12]);
    w.freeLE(5); // again: nothing
    expect([w.count, w.sizeBytes]).toEqual([2, 12]);
    w.freeLE(100);
    expect([w.count, w.sizeBytes]).toEqual([0, 0]);
  });

  it('freeFirstOne frees exactly the oldest message', () => {
    const w = new Inflights(2, 1000);
    w.add(3, 5);
    w.add(7, 6);
    w.freeFirstOne();
    expect([w.count, w.sizeBytes, w.full()]).toEqual([1, 6, false]);
    w.freeFirstOne();
    w.freeFirstOne(); // empty: no-op
    expect([w.count, w.sizeBytes]).toEqual([0, 0]);
  });

  it('stays exact over many add/free cycles (its storage is compacted as it goes)', () => {
    const w = new Inflights(4, 1 << 20);
    let index = 0;
    for (let round = 0; round < 3000; round++) {
      w.add(++index, 3);
      if (w.full()) w.freeLE(index - 2);
      expect(w.count).toBeLessThanOrEqual(4);
    }
    expect([w.count, w.sizeBytes]).toEqual([w.count, 3 * w.count]);
    w.reset();
    expect([w.count, w.sizeBytes, w.full()]).toEqual([0, 0, false]);
  });
});

describe('Progress: probe, replicate and snapshot states', () => {
  const fresh = (next = 5) => new Progress(next, false, 2, 1 << 20);

  it('starts in probe: one AppendEntries at a time, until an answer', () => {
    const p = fresh();
    expect([p.state, p.isPaused()]).toEqual(['probe', false]);
    p.sentEntries(3, 7, 30);
    expect(p.isPaused()).toBe(true);
    expect(p.next).toBe(5); // probing does not move next optimistically
    expect(p.maybeUpdate(7)).toBe(true);
    expect([p.match, p.next, p.isPaused()]).toEqual([7, 8, false]);
  });

  it('replicate: next moves ahead optimistically; paused when the window is full', () => {
    const p = fresh();
    p.maybeUpdate(4);
    p.becomeReplicate();
    expect([p.state, p.next]).toEqual(['replicate', 5]);
    p.sentEntries(2, 6, 20);
    expect([p.next, p.isPaused()]).toEqual([7, false]);
    p.sentEntries(2, 8, 20);
    expect([p.next, p.isPaused(), p.inflights.count]).toEqual([9, true, 2]);
    p.sentEntries(0, 8, 0); // an empty append takes no room
    expect(p.inflights.count).toBe(2);
  });

  it('maybeUpdate: only a higher match is news; next never goes back', () => {
    const p = fresh(10);
    expect(p.maybeUpdate(3)).toBe(true);
    expect([p.match, p.next]).toEqual([3, 10]);
    expect(p.maybeUpdate(2)).toBe(false);
    expect([p.match, p.next]).toEqual([3, 10]);
    expect(p.maybeUpdate(12)).toBe(true);
    expect([p.match, p.next]).toEqual([12, 13]);
  });

  it('maybeDecrTo in probe: uses the hint, never below match + 1, ignores stale rejections', () => {
    const p = fresh(10);
    p.maybeUpdate(2);
    p.sentEntries(1, 10, 10);
    expect(p.maybeDecrTo(7, 3)).toBe(false); // not the probe we sent (prev 9)
    expect(p.maybeDecrTo(9, 5)).toBe(true);
    expect([p.next, p.isPaused()]).toEqual([6, false]);
    expect(p.maybeDecrTo(5, 0)).toBe(true);
    expect(p.next).toBe(3); // match + 1
  });

  it('maybeDecrTo in probe: a hint past the rejected index does not move next forward', () => {
    const p = fresh(10);
    p.sentEntries(1, 10, 10);
    expect(p.maybeDecrTo(9, 100)).toBe(true);
    expect(p.next).toBe(9);
  });

  it('maybeDecrTo in replicate: falls back to match + 1; rejections at or below match are stale', () => {
    const p = fresh();
    p.maybeUpdate(4);
    p.becomeReplicate();
    p.sentEntries(3, 7, 30);
    expect(p.maybeDecrTo(4, 0)).toBe(false);
    expect(p.maybeDecrTo(6, 0)).toBe(true);
    expect(p.next).toBe(5);
  });

  it('snapshot: paused until it is applied; back to probe just past the snapshot', () => {
    const p = fresh();
    p.maybeUpdate(2);
    p.becomeSnapshot(50);
    expect([p.state, p.isPaused(), p.pendingSnapshot]).toEqual(['snapshot', true, 50]);
    p.becomeProbe();
    expect([p.state, p.next, p.pendingSnapshot, p.isPaused()]).toEqual(['probe', 51, 0, false]);
    p.becomeSnapshot(60);
    p.maybeUpdate(70);
    p.becomeProbe();
    expect(p.next).toBe(71); // match + 1 when it is past the snapshot
  });

  it('becomeProbe and becomeReplicate reset the window', () => {
    const p = fresh();
    p.becomeReplicate();
    p.sentEntries(1, 5, 10);
    p.becomeProbe();
    expect([p.inflights.count, p.next]).toEqual([0, 1]);
    expect(p.status()).toEqual({ match: 0, next: 1, state: 'probe', isLearner: false, recentActive: false, inflight: 0 });
  });
});

describe('Quorum', () => {
  it('majority(n)', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(majority)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });

  // voters' match indexes → committed index
  const cases: [number[], number][] = [
    [[], 0],
    [[5], 5],
    [[5, 3], 3],
    [[3, 5], 3],
    [[5, 3, 1], 3],
    [[1, 1, 9], 1],
    [[0, 0, 9], 0],
    [[2, 2, 2], 2],
    [[4, 3, 2, 1], 2],
    [[9, 9, 0, 0], 0],
    [[9, 9, 9, 0], 9],
    [[5, 4, 3, 2, 1], 3],
    [[1, 2, 3, 4, 5], 3],
    [[7, 7, 0, 0, 0], 0],
    [[7, 7, 6, 0, 0], 6],
  ];
  for (const [matches, want] of cases) {
    it(`committedIndex of ${matches.length} voters [${matches.join(', ')}] → ${want}`, () => {
      const voters = matches.map((_, i) => `n${i}`);
      expect(committedIndex(voters, (id) => matches[Number(id.slice(1))])).toBe(want);
    });
  }

  it('committedIndex counts only the voters given (a learner far ahead changes nothing)', () => {
    const match: Record<string, number> = { a: 5, b: 1, c: 1, learner: 99 };
    expect(committedIndex(['a', 'b', 'c'], (id) => match[id])).toBe(1);
  });

  const votes = (entries: [string, boolean][]) => new Map(entries);
  const voteCases: [string[], [string, boolean][], string][] = [
    [['a'], [['a', true]], 'won'],
    [['a', 'b', 'c'], [['a', true]], 'pending'],
    [['a', 'b', 'c'], [['a', true], ['b', true]], 'won'],
    [['a', 'b', 'c'], [['a', true], ['b', false]], 'pending'],
    [['a', 'b', 'c'], [['a', true], ['b', false], ['c', false]], 'lost'],
    [['a', 'b', 'c', 'd'], [['a', true], ['b', true]], 'pending'],
    [['a', 'b', 'c', 'd'], [['a', true], ['b', false], ['c', false]], 'lost'],
    [['a', 'b', 'c', 'd', 'e'], [['a', true], ['b', true], ['x', true], ['y', true]], 'pending'], // non-voters do not count
    [['a', 'b', 'c', 'd', 'e'], [['a', true], ['b', true], ['e', true]], 'won'],
  ];
  for (const [voters, given, want] of voteCases) {
    it(`voteResult ${voters.length} voters, votes ${given.map(([id, g]) => `${id}:${g ? 'yes' : 'no'}`).join(' ')} → ${want}`, () => {
      expect(voteResult(voters, votes(given))).toBe(want);
    });
  }
});
