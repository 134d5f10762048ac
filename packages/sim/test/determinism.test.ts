import { describe, expect, it } from 'vitest';
import { EntryType, RaftNode, type Ready } from '@bramble/raft';
import { runSeed, runSeeds } from '../src/index.js';

describe('determinism', () => {
  it('the same seed gives the same result and the same trace', () => {
    for (const nodes of [3, 5] as const) {
      const a = runSeed({ seed: 12345, nodes, steps: 800, trace: true });
      const b = runSeed({ seed: 12345, nodes, steps: 800, trace: true });
      expect(a.trace!.length).toBeGreaterThan(1000);
      expect(b.trace).toEqual(a.trace);
      expect(b).toEqual(a);
    }
  });

  it('tracing does not change the run', () => {
    const traced = runSeed({ seed: 99, nodes: 3, steps: 800, trace: true });
    const plain = runSeed({ seed: 99, nodes: 3, steps: 800 });
    expect({ ...traced, trace: undefined }).toEqual({ ...plain, trace: undefined });
  });

  it('different seeds give different runs', () => {
    const a = runSeed({ seed: 1, nodes: 3, steps: 600, trace: true });
    const b = runSeed({ seed: 2, nodes: 3, steps: 600, trace: true });
    expect(b.trace).not.toEqual(a.trace);
  });
});

/** Test-only: node m2 hands its host a tampered client command to apply. */
class TamperingNode extends RaftNode {
  override ready(): Ready {
    const rd = super.ready();
    if (this.id !== 'm2') return rd;
    rd.committedEntries = rd.committedEntries.map((e) =>
      e.type === EntryType.Normal && e.data.length > 0 ? { ...e, data: new TextEncoder().encode('{"id":-99,"op":"put","key":"k0","value":"forged"}') } : e,
    );
    return rd;
  }
}

describe('nodeFactory and violation reports', () => {
  it('runs the nodes the factory builds, stops at the first violation and returns the trace tail', () => {
    const r = runSeed({ seed: 3, nodes: 3, steps: 2000, nodeFactory: (cfg) => new TamperingNode(cfg) });
    expect(r.violations).toHaveLength(1);
    const v = r.violations[0];
    expect(v.kind).toBe('state-machine-safety');
    // Whichever applied second reports the disagreement with m2's forged entry.
    expect(v.detail).toMatch(/m2/);
    expect(v.detail).toMatch(/forged/);
    expect(r.steps).toBe(v.step);
    expect(r.steps).toBeLessThan(2000);
    expect(r.trace!.length).toBeGreaterThan(0);
    expect(r.trace!.length).toBeLessThanOrEqual(200);
    expect(r.trace![r.trace!.length - 2]).toMatch(/VIOLATION state-machine-safety/);
  });

  it('runSeeds stops on the first violating seed when asked', () => {
    const summary = runSeeds({ seeds: 5, start: 1, nodes: 3, steps: 1500, nodeFactory: (cfg) => new TamperingNode(cfg), stopOnFirstViolation: true });
    expect(summary.seeds).toBe(1);
    expect(summary.violations).toBe(1);
    expect(summary.failed[0].seed).toBe(1);
  });
});
