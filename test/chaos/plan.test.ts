// The nemesis schedule: a pure function of the seed, a minority impaired at most, every
// kind in turn, and enough faults for the 30-minute soak at the default interval.
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, PARTITION_VARIANTS, parseChaosArgs } from '../../scripts/src/chaos/options.js';
import { maxImpaired, planFaults, settleMs, type PlanOptions, type PlannedFault } from '../../scripts/src/chaos/plan.js';

const ALL: Omit<PlanOptions, 'seed' | 'masters' | 'durationMs'> = {
  faults: [...FAULT_KINDS],
  partitions: [...PARTITION_VARIANTS],
  faultIntervalMs: 6000,
};

/** The most members the plan ever has impaired (or settling) at one instant. */
function peakImpaired(plan: PlannedFault[]): number {
  const edges = plan.flatMap((f) => {
    const lasts = (f.kind === 'restart' ? 1000 : f.durationMs) + settleMs(f.kind);
    return [
      { t: f.atMs, d: f.width },
      { t: f.atMs + lasts, d: -f.width },
    ];
  });
  edges.sort((a, b) => a.t - b.t || a.d - b.d); // a slot freed at t is free for a fault starting at t
  let now = 0;
  let peak = 0;
  for (const e of edges) peak = Math.max(peak, (now += e.d));
  return peak;
}

describe('planFaults', () => {
  it('is a pure function of the seed: same seed, same plan; another seed, another plan', () => {
    const o = { ...ALL, masters: 3, durationMs: 600_000 };
    const a = planFaults({ ...o, seed: 42 });
    expect(planFaults({ ...o, seed: 42 })).toEqual(a);
    expect(planFaults({ ...o, seed: 43 })).not.toEqual(a);
    // The default options parse to the same plan inputs on every call.
    const parsed = parseChaosArgs(['--seed', '42', '--duration', '10m'], () => 1);
    expect(planFaults({ ...parsed, masters: parsed.masters })).toEqual(a);
  });

  it('never impairs more than a minority at once, and every fault starts within the run', () => {
    for (const masters of [3, 5]) {
      for (let seed = 1; seed <= 50; seed++) {
        const plan = planFaults({ ...ALL, seed, masters, durationMs: 300_000 });
        expect(peakImpaired(plan), `seed ${seed}, ${masters} masters`).toBeLessThanOrEqual(maxImpaired(masters));
        for (const f of plan) {
          expect(f.atMs).toBeGreaterThanOrEqual(0);
          expect(f.atMs).toBeLessThan(300_000);
          expect(f.width).toBeLessThanOrEqual(maxImpaired(masters));
        }
        expect(plan.map((f) => f.atMs)).toEqual([...plan.map((f) => f.atMs)].sort((x, y) => x - y));
      }
    }
    expect(maxImpaired(3)).toBe(1);
    expect(maxImpaired(5)).toBe(2);
  });

  it('takes every requested kind in turn, and pauses outlast an election timeout', () => {
    const plan = planFaults({ ...ALL, seed: 7, masters: 3, durationMs: 600_000 });
    const counts = new Map<string, number>();
    for (const f of plan) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([...FAULT_KINDS].sort());
    expect(Math.max(...counts.values()) - Math.min(...counts.values())).toBeLessThanOrEqual(1);
    const variants = new Set(plan.filter((f) => f.kind === 'partition').map((f) => f.variant));
    expect([...variants].sort()).toEqual([...PARTITION_VARIANTS].sort());
    for (const f of plan.filter((p) => p.kind === 'pause')) {
      expect(f.durationMs).toBeGreaterThanOrEqual(1500);
      expect(f.durationMs).toBeLessThanOrEqual(4000);
    }
    expect(plan.filter((f) => f.kind === 'kill-leader').every((f) => f.atLeader)).toBe(true);
    const only = planFaults({ ...ALL, faults: ['pause'], seed: 7, masters: 3, durationMs: 60_000 });
    expect(new Set(only.map((f) => f.kind))).toEqual(new Set(['pause']));
    expect(planFaults({ ...ALL, faults: [], seed: 7, masters: 3, durationMs: 60_000 })).toEqual([]);
  });

  it('plans at least 200 faults for a 30-minute run at the default interval', () => {
    for (const masters of [3, 5]) {
      for (const seed of [1, 2, 3]) {
        const plan = planFaults({ ...ALL, seed, masters, durationMs: 30 * 60_000 });
        expect(plan.length, `seed ${seed}, ${masters} masters`).toBeGreaterThanOrEqual(200);
      }
    }
  });
});

describe('parseChaosArgs', () => {
  it('parses durations, fault lists and modes, and names what is wrong', () => {
    const o = parseChaosArgs(['--duration', '90s', '--faults', 'kill,pause', '--masters', '5', '--read-mode', 'serializable'], () => 9);
    expect(o).toMatchObject({ durationMs: 90_000, faults: ['kill', 'pause'], masters: 5, readMode: 'serializable', seed: 9 });
    expect(parseChaosArgs(['--duration', '30m'], () => 1).durationMs).toBe(1_800_000);
    expect(parseChaosArgs(['--duration', '2m', '--faults', 'none'], () => 1).faults).toEqual([]);
    expect(() => parseChaosArgs(['--faults', 'kill,meteor'], () => 1)).toThrow(/--faults: unknown "meteor"/);
    expect(() => parseChaosArgs(['--masters', '4'], () => 1)).toThrow(/--masters: must be 3 or 5/);
    expect(() => parseChaosArgs(['--duration', 'soon'], () => 1)).toThrow(/--duration: "soon" is not a duration/);
  });
});
