// Shrinking a non-linearizable partition to a short window that shows the violation.
//
// Every shrinking step is sound: if the smaller history is illegal, so is the original,
// so a window never shows a "violation" that the full history explains.
//  1. Cut the end. The history up to an event, with operations still running at that
//     point turned into unknown outcomes, is a prefix in the sense of linearizability
//     theory: if the whole history is linearizable, so is every prefix. Illegality of
//     prefixes is therefore monotone and a binary search finds the shortest one; it
//     ends at the return of the operation that cannot be explained.
//  2. Cut the front. Dropping operations that returned before some call C is sound
//     only if the window is illegal from every state those operations could have left
//     (Model.statesAfter). Operations that were still running at C stay in the window,
//     as unknown outcomes (they may have taken effect before or after C).
//  3. Let the model's partition() drop operations that constrain nothing (for the kv
//     model: gets with unknown outcome, which step 1 or 2 may have created).
// Each candidate is checked with the normal search; a timed-out check counts as "not
// shown illegal", so the result is always a window that was verified illegal.

import { asUnknown, orderEvents } from './history.js';
import { searchPartition, type Budget, type Deepest } from './search.js';
import type { Model, Operation } from './types.js';

export interface ShrunkWindow<S, I, O> {
  /** In call order; illegal from every state in `startStates`, which includes init(). */
  window: Operation<I, O>[];
  startStates: S[];
  /** Operations of the partition that returned before the window and were left out. */
  droppedBefore: number;
  /** The furthest any order got (absent if the traced search ran out of time). */
  deepest?: Deepest<S>;
}

function illegalFromAll<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  states: S[],
  budget: Budget,
): boolean {
  return searchPartition(model, ops, states, budget).result === 'illegal';
}

function byCall<I, O>(ops: Operation<I, O>[]): Operation<I, O>[] {
  return [...ops].sort((a, b) => a.call - b.call || a.id - b.id);
}

/** The partition up to its `k`-th event: later calls dropped, unfinished operations unknown. */
function prefix<I, O>(ops: Operation<I, O>[], k: number): Operation<I, O>[] {
  const events = orderEvents(ops as Operation<unknown, unknown>[]);
  const called = new Set<number>();
  const returned = new Set<number>();
  for (let i = 0; i < k; i++) (events[i].isCall ? called : returned).add(events[i].opIndex);
  const out: Operation<I, O>[] = [];
  ops.forEach((op, i) => {
    if (!called.has(i)) return;
    out.push(op.status === 'ok' && !returned.has(i) ? asUnknown(op) : op);
  });
  return out;
}

/** Drops operations returned before the `j`-th call; those still running there become unknown. */
function suffix<I, O>(ops: Operation<I, O>[], j: number): { before: Operation<I, O>[]; window: Operation<I, O>[] } {
  const events = orderEvents(ops as Operation<unknown, unknown>[]);
  const callPositions: number[] = [];
  events.forEach((e, i) => e.isCall && callPositions.push(i));
  const cut = j < callPositions.length ? callPositions[j] : events.length;
  const position = new Map<string, number>();
  events.forEach((e, i) => position.set(`${e.opIndex}${e.isCall ? 'c' : 'r'}`, i));
  const before: Operation<I, O>[] = [];
  const window: Operation<I, O>[] = [];
  ops.forEach((op, i) => {
    if (position.get(`${i}c`)! >= cut) {
      window.push(op);
      return;
    }
    before.push(op);
    const returnedAt = position.get(`${i}r`);
    if (returnedAt === undefined) window.push(op); // unknown outcome: may take effect at any later time
    else if (returnedAt >= cut) window.push(asUnknown(op));
  });
  return { before, window };
}

function startStatesFor<S, I, O>(model: Model<S, I, O>, before: Operation<I, O>[], window: Operation<I, O>[]): S[] {
  const init = model.init();
  if (model.statesAfter === undefined) return [init];
  const states = model.statesAfter(before, window);
  const initKey = model.key(init);
  return states.some((s) => model.key(s) === initKey) ? states : [init, ...states];
}

/**
 * `ops` must be illegal from model.init(); `frontier` is what the search that found
 * that reported (SearchOutcome.frontier), if known.
 */
export function shrinkWindow<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  budget: Budget,
  frontier?: number,
): ShrunkWindow<S, I, O> {
  const ordered = byCall(ops);
  const init = model.init();

  // 1. Shortest illegal prefix. Invariant: prefix(hi) is illegal, prefix(lo) is not known to be.
  const eventCount = orderEvents(ordered as Operation<unknown, unknown>[]).length;
  let lo = 0;
  let hi = eventCount;
  // The history up to the frontier is linearizable; the return at the frontier is
  // usually the one that cannot be explained. Try that first.
  if (frontier !== undefined && frontier >= 0 && frontier < eventCount) {
    lo = frontier;
    if (searchPartition(model, prefix(ordered, frontier + 1), [init], budget).result === 'illegal') hi = frontier + 1;
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (searchPartition(model, prefix(ordered, mid), [init], budget).result === 'illegal') hi = mid;
    else lo = mid;
  }
  const head = byCall(prefix(ordered, hi));

  // 2. Latest front cut that stays illegal. Cut j drops what returned before the j-th
  // call; cut 0 is `head` (illegal), cut head.length leaves no calls (legal).
  // Violations are usually local, so gallop back from the end, where windows are
  // small and cheap, then bisect. Invariant: cutLo is illegal, cutHi is not.
  let best = { before: [] as Operation<I, O>[], window: head, states: [init] };
  if (model.statesAfter !== undefined) {
    const tryCut = (j: number): boolean => {
      const { before, window } = suffix(head, j);
      const states = startStatesFor(model, before, window);
      if (!illegalFromAll(model, window, states, budget)) return false;
      best = { before, window: byCall(window), states };
      return true;
    };
    let cutLo = 0;
    let cutHi = head.length;
    for (let back = 1; head.length - back > 0; back *= 2) {
      const j = head.length - back;
      if (tryCut(j)) {
        cutLo = j;
        break;
      }
      cutHi = j;
    }
    while (cutHi - cutLo > 1) {
      const mid = (cutLo + cutHi) >>> 1;
      if (tryCut(mid)) cutLo = mid;
      else cutHi = mid;
    }
    // `best` is the last illegal cut tried, which is cutLo.
  }

  // 3. Operations that constrain nothing.
  if (model.partition !== undefined) {
    const pruned = byCall(model.partition(best.window).flat());
    if (pruned.length < best.window.length && illegalFromAll(model, pruned, best.states, budget)) {
      best = { ...best, window: pruned };
    }
  }

  // Explanation: the furthest any order gets.
  const { result, deepest } = searchPartition(model, best.window, best.states, budget, true);

  const beforeIds = new Set(best.before.map((op) => op.id));
  const windowIds = new Set(best.window.map((op) => op.id));
  return {
    window: best.window,
    startStates: best.states,
    droppedBefore: [...beforeIds].filter((id) => !windowIds.has(id)).length,
    ...(result === 'illegal' ? { deepest } : {}),
  };
}
