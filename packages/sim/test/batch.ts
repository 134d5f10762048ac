// Shared by seeds-3.test.ts and seeds-5.test.ts (two files, so vitest runs them in parallel).
import { expect, it } from 'vitest';
import { DEFAULT_STEPS, runSeeds, type SeedResult, type SeedStats } from '../src/index.js';

export const SEEDS_PER_SIZE = 250;
/** Seeds per `it`: a long synchronous test would starve vitest's worker RPC. */
const CHUNK = 25;

function describeFailure(r: SeedResult): string {
  const v = r.violations[0];
  return (
    `seed ${r.seed} (${r.nodes} nodes): ${v.kind} at step ${v.step}: ${v.detail}\n` +
    `  replay: scripts/sim --seeds 1 --start ${r.seed} --nodes ${r.nodes} --steps ${DEFAULT_STEPS} --trace`
  );
}

/** Registers the batch: chunks of seeds that must be clean, then one test that every fault was exercised. */
export function seedBatch(nodes: 3 | 5): void {
  const results: SeedResult[] = [];

  for (let start = 1; start <= SEEDS_PER_SIZE; start += CHUNK) {
    it(`seeds ${start}..${start + CHUNK - 1}: no safety violation, no non-linearizable history`, () => {
      const summary = runSeeds({ seeds: CHUNK, start, nodes, steps: DEFAULT_STEPS });
      results.push(...summary.results);
      expect(summary.failed.map(describeFailure).join('\n')).toBe('');
      expect(summary.notLinearizable).toBe(0);
      for (const r of summary.results) {
        // Every seed does real work.
        expect(r.elections, `seed ${r.seed} elections`).toBeGreaterThanOrEqual(5);
        expect(r.commits, `seed ${r.seed} commits`).toBeGreaterThan(50);
        expect(r.ops.ok, `seed ${r.seed} completed client ops`).toBeGreaterThan(20);
        expect(r.stats.crashes, `seed ${r.seed} crashes`).toBeGreaterThan(3);
      }
    }, 120_000);
  }

  it('across the batch, every kind of fault and change happened', () => {
    expect(results).toHaveLength(SEEDS_PER_SIZE);
    const seedsWith = (key: keyof SeedStats): number => results.filter((r) => r.stats[key] > 0).length;
    const total = (key: keyof SeedStats): number => results.reduce((sum, r) => sum + r.stats[key], 0);
    const most = SEEDS_PER_SIZE * 0.8;
    // 'unknown' (the checker ran out of time) is not a violation, but must stay rare.
    expect(results.filter((r) => r.linearizable === 'unknown').length).toBeLessThanOrEqual(SEEDS_PER_SIZE / 50);
    expect(seedsWith('restarts')).toBeGreaterThan(most);
    expect(seedsWith('partitions')).toBeGreaterThan(most);
    expect(seedsWith('cuts')).toBeGreaterThan(most);
    expect(seedsWith('snapshotsTaken')).toBeGreaterThan(most);
    expect(seedsWith('snapshotsInstalled')).toBeGreaterThan(most);
    expect(seedsWith('confChangesApplied')).toBeGreaterThan(most);
    expect(seedsWith('transfersCompleted')).toBeGreaterThan(most);
    expect(total('learnersAdded')).toBeGreaterThan(SEEDS_PER_SIZE);
    expect(total('promotions')).toBeGreaterThan(SEEDS_PER_SIZE);
    expect(total('removals')).toBeGreaterThan(SEEDS_PER_SIZE);
    expect(total('crashesAfterVote')).toBeGreaterThan(SEEDS_PER_SIZE);
    expect(total('crashesAfterElection')).toBeGreaterThan(SEEDS_PER_SIZE);
    expect(total('powerFailures')).toBeGreaterThan(SEEDS_PER_SIZE / 2);
    expect(total('messagesDropped')).toBeGreaterThan(0);
    expect(total('messagesDuplicated')).toBeGreaterThan(0);
    expect(results.reduce((sum, r) => sum + r.elections, 0)).toBeGreaterThan(SEEDS_PER_SIZE * 10);
  });
}
