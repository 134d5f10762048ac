// The checker has teeth: gets made serializable (a local, possibly stale read) and sent to a
// member the nemesis has isolated, while writes go to the others, must be caught as not
// linearizable. The same run with linearizable gets must pass: the catch is the stale
// reads, not the scenario.
import { describe, expect, it } from 'vitest';
import { planFaults } from '../../scripts/src/chaos/plan.js';
import { readReport, runChaos, tail } from './run-chaos.js';

// Isolate a member (blackholed or reset links, both directions) about every 3 s, from 1.5 s
// on; gets go to the isolated member, writes to the others. A single isolation of a follower
// gives stale reads within milliseconds; of the leader, once the others elect a new one (~1 s).
const scenario = (seed: number, readMode: string): string[] => [
  '--masters', '3',
  '--seed', String(seed),
  '--duration', '15s',
  '--faults', 'partition',
  '--partitions', 'isolate',
  '--fault-interval', '3',
  '--reads-to', 'impaired',
  '--read-mode', readMode,
];

// Seeds tried in turn until one is caught (the first always has been): each plan's first
// isolation starts at 1.5 s and lasts at least 4 s.
const SEEDS = [2, 5, 9];

describe('chaos: teeth', () => {
  it('the seeds isolate a member early and for long', () => {
    for (const seed of SEEDS) {
      const plan = planFaults({ seed, masters: 3, faults: ['partition'], partitions: ['isolate'], durationMs: 15_000, faultIntervalMs: 3000 });
      expect(plan[0], `seed ${seed}`).toMatchObject({ atMs: 1500, variant: 'isolate' });
      expect(plan[0].durationMs, `seed ${seed}`).toBeGreaterThanOrEqual(4000);
    }
  });

  it(
    'serializable gets on an isolated member are flagged: linearizable false, with the violating window',
    async () => {
      let caught: Awaited<ReturnType<typeof runChaos>> | undefined;
      const misses: string[] = [];
      for (const seed of SEEDS) {
        const run = await runChaos(`teeth-seed${seed}`, scenario(seed, 'serializable'), 60_000);
        expect(run.leftovers).toEqual([]);
        expect(run.summary, tail(run)).toBeDefined();
        if (run.summary!.linearizable === false) {
          caught = run;
          break;
        }
        misses.push(`seed ${seed}: ${JSON.stringify(run.summary)}`);
      }
      expect(caught, `no seed caught the stale reads:\n${misses.join('\n')}`).toBeDefined();
      const run = caught!;
      expect(run.elapsedMs).toBeLessThan(60_000);
      expect(run.code).toBe(1);
      // The smallest window, printed readably: a get that returned an overwritten value.
      expect(run.stderr).toMatch(/not linearizable on \/chaos\/k\d+: \d+-operation window/);
      expect(run.stderr).toMatch(/get\(\/chaos\/k\d+\) -> /);
      const { json, md } = readReport(run.reportDir);
      expect(json.summary.linearizable).toBe(false);
      expect(md).toMatch(/## Linearizability violation \(smallest window\)/);
      expect(json.violation).toMatch(/Longest consistent order/);
    },
    200_000,
  );

  it(
    'the same scenario with linearizable gets passes every check',
    async () => {
      const run = await runChaos(`teeth-control-seed${SEEDS[0]}`, scenario(SEEDS[0], 'linearizable'), 60_000);
      expect(run.leftovers).toEqual([]);
      expect(run.summary, tail(run)).toMatchObject({ linearizable: true, lost_acked: 0, watch_ok: true, converged: true, revisions_ok: true, crashes: 0 });
      expect(run.summary!.faults.partition).toBeGreaterThan(0);
      expect(run.code).toBe(0);
    },
    70_000,
  );
});
