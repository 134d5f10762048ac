// The search's memo: which (set of linearized operations, state) points were explored.
//
// Unknown-outcome operations are never required, so a point that has also used up
// some unknown operations can do no more than the same point without them: from
// (completed set C, unknown set U, state s) every continuation is also open from
// (C, U' ⊆ U, s). A point is therefore skipped when the same completed set and state
// were already reached with a subset of its unknown operations. Without unknown
// operations this is the plain WGL memo.

import type { Bitset } from './bitset.js';

export class ExploredPoints {
  private readonly plain = new Set<string>();
  private readonly withUnknowns = new Map<string, Uint32Array[]>();

  /** Points recorded (a point covered by a later one still counts). */
  size = 0;

  constructor(private readonly hasUnknowns: boolean) {}

  /**
   * `key` identifies the completed set and the state. Returns false if the point
   * (or one that covers it) was explored before; otherwise records it and returns true.
   */
  visit(key: string, unknowns: Bitset): boolean {
    if (!this.hasUnknowns) {
      if (this.plain.has(key)) return false;
      this.plain.add(key);
      this.size++;
      return true;
    }
    const explored = this.withUnknowns.get(key);
    if (explored === undefined) {
      this.withUnknowns.set(key, [unknowns.snapshot()]);
      this.size++;
      return true;
    }
    if (explored.some((smaller) => unknowns.containsAll(smaller))) return false;
    // Entries with more unknowns than this one are now covered by it.
    const kept = explored.filter((larger) => !unknowns.within(larger));
    kept.push(unknowns.snapshot());
    this.withUnknowns.set(key, kept);
    this.size++;
    return true;
  }
}
