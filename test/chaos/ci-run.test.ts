// The bounded chaos run: 150 s on 3 masters with every fault type (kill -9 of the leader and
// of any member, SIGSTOP pauses, SIGTERM restarts, and every partition variant), which must
// pass every check and leave no process behind.
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, PARTITION_VARIANTS } from '../../scripts/src/chaos/options.js';
import { planFaults } from '../../scripts/src/chaos/plan.js';
import { readReport, runChaos, tail } from './run-chaos.js';

// A seed whose plan holds every fault kind and every partition variant (checked below).
const SEED = 1;
const DURATION_MS = 150_000;
const FAULT_INTERVAL_S = 4;

describe('chaos: bounded CI run', () => {
  it(
    '150 s, 3 masters, every fault type: linearizable, no lost write, watches and revisions right, converged; nothing left running',
    async () => {
      const plan = planFaults({
        seed: SEED,
        masters: 3,
        faults: [...FAULT_KINDS],
        partitions: [...PARTITION_VARIANTS],
        durationMs: DURATION_MS,
        faultIntervalMs: FAULT_INTERVAL_S * 1000,
      });
      expect(new Set(plan.map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
      expect(new Set(plan.filter((f) => f.variant).map((f) => f.variant))).toEqual(new Set(PARTITION_VARIANTS));

      const run = await runChaos(
        'ci-run',
        ['--masters', '3', '--seed', String(SEED), '--duration', `${DURATION_MS / 1000}s`, '--fault-interval', String(FAULT_INTERVAL_S)],
        215_000,
      );
      expect(run.leftovers, 'processes left under the run temp dir').toEqual([]);
      expect(run.timedOut, tail(run)).toBe(false);
      const s = run.summary;
      expect(s, `no JSON summary line on stdout:\n${run.stdout}\n${tail(run)}`).toBeDefined();
      expect(s, tail(run)).toMatchObject({ linearizable: true, lost_acked: 0, watch_ok: true, converged: true, revisions_ok: true, crashes: 0 });
      expect(run.code, tail(run)).toBe(0);

      for (const kind of FAULT_KINDS) expect(s!.faults[kind] ?? 0, `${kind} faults injected`).toBeGreaterThan(0);
      const injected = Object.values(s!.faults).reduce((a, b) => a + b, 0);
      // Faults start when their slot is free, so a slow restart shifts the rest: the last few may not fit.
      expect(injected).toBeGreaterThanOrEqual(Math.floor(plan.length * 0.8));
      expect(s!.leader_changes).toBeGreaterThan(0);
      expect(s!.ok).toBeGreaterThan(2000);
      expect(s!.ops).toBe(s!.ok + s!.failed + s!.unknown);
      expect(s!.duration_s).toBeGreaterThanOrEqual(DURATION_MS / 1000);

      const { json, md } = readReport(run.reportDir);
      const variants = new Set((json.faults as Array<{ variant?: string }>).filter((f) => f.variant).map((f) => f.variant));
      expect(variants.size, `partition variants injected: ${[...variants].join(', ')}`).toBeGreaterThanOrEqual(PARTITION_VARIANTS.length - 1);
      expect(json.leaders.length).toBe(s!.leader_changes + 1);
      expect(Object.keys(json.latencyMs).sort()).toEqual(['cas', 'delete', 'get', 'put']);
      expect(json.perSecond.length).toBeGreaterThanOrEqual(DURATION_MS / 1000);
      expect(md).toMatch(/## Timeline/);
      expect(md).toMatch(/\| \d+\.\d+ \| fault 1: /);
      expect(md).toMatch(/\| \d+\.\d+ \| leader m\d, term \d+ \|/);
    },
    240_000,
  );
});
