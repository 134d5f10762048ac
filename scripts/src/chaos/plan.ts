// The nemesis's schedule: a pure function of the seed and the options, so a seed replays
// the same faults at the same offsets. Targets that depend on the live cluster (the
// leader, a member not already impaired) are resolved when a fault starts, from its `pick`.
import { seededRandom } from '@bramble/raft';
import type { BlackholeHow } from './proxy.js';
import type { FaultKind, PartitionVariant } from './options.js';

export type CutMode = BlackholeHow | 'reset';

export interface PlannedFault {
  id: number;
  kind: FaultKind;
  /** Offset from the start of the workload. */
  atMs: number;
  /** How long the fault lasts before it is healed (for restart: not used, it restarts at once). */
  durationMs: number;
  /** Members it takes out of the majority at once (a split of 5 takes 2). */
  width: number;
  /** kill-leader, isolate-leader and one-way aim at the leader; pause and restart sometimes do. */
  atLeader: boolean;
  /** In [0, 1): chooses among candidate members when the fault starts. */
  pick: number;
  variant?: PartitionVariant;
  /** How cut links behave (partitions). */
  cut?: CutMode;
  /** one-way: cut the leader's messages to the follower, or the follower's to the leader. */
  direction?: 'from-leader' | 'to-leader';
  /** slow: added latency per direction. */
  delayMs?: number;
  /** flap: seed of the on/off toggling. */
  flapSeed?: number;
}

export interface PlanOptions {
  seed: number;
  masters: number;
  faults: FaultKind[];
  partitions: PartitionVariant[];
  durationMs: number;
  faultIntervalMs: number;
}

/** At most this many members impaired at once: a minority, so a majority can make progress. */
export function maxImpaired(masters: number): number {
  return Math.floor((masters - 1) / 2);
}

/**
 * After a fault is healed its slot stays taken this long (a restarted master replays its
 * log and catches up; a healed link reconnects), so faults do not pile onto one another.
 */
export function settleMs(kind: FaultKind): number {
  return kind === 'kill' || kind === 'kill-leader' || kind === 'restart' ? 1500 : 500;
}

/** No fault starts in the last part of the run, so the last one heals within it. */
const TAIL_MS = 1000;

function between(random: () => number, lo: number, hi: number): number {
  return Math.round(lo + random() * (hi - lo));
}

/** Every item once per round, in a fresh shuffled order each round. */
function roundRobin<T>(items: readonly T[], random: () => number): () => T {
  let round: T[] = [];
  return () => {
    if (round.length === 0) {
      round = [...items];
      for (let i = round.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [round[i], round[j]] = [round[j], round[i]];
      }
    }
    return round.pop()!;
  };
}

function describeFault(kind: FaultKind, variant: PartitionVariant | undefined, masters: number, random: () => number): Omit<PlannedFault, 'id' | 'atMs'> {
  const pick = random();
  switch (kind) {
    case 'kill-leader':
      return { kind, durationMs: between(random, 1000, 5000), width: 1, atLeader: true, pick };
    case 'kill':
      return { kind, durationMs: between(random, 1000, 5000), width: 1, atLeader: false, pick };
    case 'pause':
      // Longer than an election timeout (10 ticks of 50 ms, randomized up to 2x): 1.5–4 s.
      return { kind, durationMs: between(random, 1500, 4000), width: 1, atLeader: random() < 0.5, pick };
    case 'restart':
      return { kind, durationMs: 0, width: 1, atLeader: random() < 0.5, pick };
    case 'partition': {
      const v = variant!;
      const cut: CutMode = (['drop', 'hold', 'reset'] as const)[Math.floor(random() * 3)];
      const durationMs = between(random, 2000, 8000);
      const base = { kind, variant: v, durationMs, pick };
      switch (v) {
        case 'isolate-leader':
          return { ...base, width: 1, atLeader: true, cut };
        case 'isolate':
          return { ...base, width: 1, atLeader: false, cut };
        case 'split':
          return { ...base, width: maxImpaired(masters), atLeader: random() < 0.5, cut };
        case 'one-way':
          return { ...base, width: 1, atLeader: true, cut, direction: random() < 0.5 ? 'from-leader' : 'to-leader' };
        case 'flap':
          return { ...base, width: 1, atLeader: random() < 0.5, cut, flapSeed: Math.floor(random() * 2 ** 31) };
        case 'slow':
          return { ...base, width: 1, atLeader: random() < 0.5, delayMs: between(random, 50, 250) };
      }
    }
  }
}

/**
 * Faults start about every `faultIntervalMs` (uniform in [0.5, 1.5) times it), each kind in
 * turn (a shuffled round per kind, likewise partition variants), and never more than a
 * minority of members impaired at once: a fault whose slots are still taken (by a fault
 * not yet healed and settled) starts when they free up.
 */
export function planFaults(o: PlanOptions): PlannedFault[] {
  const random = seededRandom((o.seed ^ 0x5eed_fa17) >>> 0);
  const plan: PlannedFault[] = [];
  if (o.faults.length === 0) return plan;
  const capacity = maxImpaired(o.masters);
  const nextKind = roundRobin(o.faults, random);
  const nextVariant = roundRobin(o.partitions, random);
  /** Slots taken: until when, and how many. */
  let busy: Array<{ untilMs: number; width: number }> = [];
  let t = Math.min(2000, o.faultIntervalMs / 2);
  for (let id = 1; ; id++) {
    const kind = nextKind();
    const fault = describeFault(kind, kind === 'partition' ? nextVariant() : undefined, o.masters, random);
    // Wait for enough free slots.
    for (;;) {
      busy = busy.filter((b) => b.untilMs > t);
      const used = busy.reduce((n, b) => n + b.width, 0);
      if (used + fault.width <= capacity) break;
      t = Math.min(...busy.map((b) => b.untilMs));
    }
    // A restart's own length is how long the process takes to stop and start: about a second.
    const lastsMs = (kind === 'restart' ? 1000 : fault.durationMs) + settleMs(kind);
    if (t + Math.min(lastsMs, 2000) > o.durationMs - TAIL_MS) break;
    plan.push({ id, atMs: Math.round(t), ...fault });
    busy.push({ untilMs: t + lastsMs, width: fault.width });
    t += o.faultIntervalMs * (0.5 + random());
  }
  return plan;
}
