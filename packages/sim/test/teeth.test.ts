// The checks have teeth: each deliberately broken Raft core (test code only, see
// broken-variants.ts) must be caught by the simulator within 1,000 seeds, at 3 and 5 nodes.
import { describe, expect, it } from 'vitest';
import { runSeed } from '../src/index.js';
import { brokenVariants } from './broken-variants.js';

const MAX_SEEDS = 1000;

describe('the simulator catches deliberately broken cores', () => {
  for (const [name, nodeFactory] of Object.entries(brokenVariants)) {
    for (const nodes of [3, 5] as const) {
      it(`catches "${name}" within ${MAX_SEEDS} seeds (${nodes} nodes)`, () => {
        let caughtAt: number | undefined;
        let kinds: string[] = [];
        for (let seed = 1; seed <= MAX_SEEDS && caughtAt === undefined; seed++) {
          const r = runSeed({ seed, nodes, steps: 2000, nodeFactory });
          if (r.violations.length > 0) {
            caughtAt = seed;
            kinds = r.violations.map((v) => v.kind);
          }
        }
        console.log(`${name} (${nodes} nodes): caught at seed ${caughtAt} by ${kinds.join(', ')}`);
        expect(caughtAt, `"${name}" was not caught within ${MAX_SEEDS} seeds`).toBeDefined();
      });
    }
  }

  it('the real core passes the same seeds', () => {
    for (let seed = 1; seed <= 20; seed++) {
      for (const nodes of [3, 5] as const) {
        const r = runSeed({ seed, nodes, steps: 2000 });
        expect(r.violations, `seed ${seed}, ${nodes} nodes`).toEqual([]);
      }
    }
  });
});
