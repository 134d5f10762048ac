// LeaderlessWatchGuard: only a leaderless spell longer than the grace ends and refuses watches.
import { describe, expect, it } from 'vitest';
import { LeaderlessWatchGuard } from '../src/leaderless-watches.js';

describe('LeaderlessWatchGuard', () => {
  it('ends watches once the member has had no leader for the grace period, and serves again with a leader', () => {
    let leader = 'm1';
    let nowMs = 0;
    const ended: string[] = [];
    const guard = new LeaderlessWatchGuard({ member: 'm2', leaderName: () => leader, now: () => nowMs, graceMs: 1_000, endWatches: (r) => ended.push(r) });

    guard.check();
    expect(guard.refusal()).toBeUndefined();
    leader = ''; // an election, or cut off
    nowMs = 100;
    guard.check();
    nowMs = 1_099;
    guard.check();
    expect(guard.refusal()).toBeUndefined(); // a short election costs no watch
    expect(ended).toEqual([]);
    nowMs = 1_100;
    guard.check();
    expect(ended).toEqual(['master m2 has had no leader for 1000 ms (cut off from the other masters?): its watches would miss changes; resume the watch on another master']);
    expect(guard.refusal()).toMatch(/^master m2 has had no leader for 1000 ms/);

    leader = 'm3';
    expect(guard.refusal()).toBeUndefined();
    leader = '';
    nowMs = 1_200; // a new spell starts from zero
    expect(guard.refusal()).toBeUndefined();
    nowMs = 2_199;
    expect(guard.refusal()).toBeUndefined();
    nowMs = 2_200;
    expect(guard.refusal()).toMatch(/no leader for 1000 ms/);
  });
});
