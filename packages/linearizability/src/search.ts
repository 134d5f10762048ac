// The Wing–Gong–Lowe search over one partition.
//
// The calls and returns of the history are kept in real-time order (history.ts) in
// doubly linked lists. The search may linearize (let take effect) any operation
// whose call comes before the first return still pending: it applies the model
// step, removes ("lifts") the operation's call and return from the lists and looks
// again. When no candidate fits, some pending operation should already have taken
// effect, so the search undoes ("unlifts") its last choice and tries the next
// candidate after it. A memo of explored points (set of linearized operations, model
// state) keeps the search from repeating itself (explored.ts).
//
// Unknown-outcome operations have no return, so they never force an order and may be
// left out: the search succeeds once every completed ('ok') operation is linearized.
//
// Calls live in one list per pass (below), so a pass only walks its own candidates:
// unknown operations, which stay pending to the end, are not re-walked by every look.

import { Bitset } from './bitset.js';
import { ExploredPoints } from './explored.js';
import { orderEvents } from './history.js';
import type { Model, Operation } from './types.js';

/** Wall-clock limit of a search, in the units of `now`. */
export interface Budget {
  now: () => number;
  deadline: number;
}

export type SearchResult = 'ok' | 'illegal' | 'unknown';

/** The furthest a failed search got (in completed operations): the basis of a violation's explanation. */
export interface Deepest<S> {
  /** The start state it got there from. */
  start: S;
  /** Indexes into the searched ops, in the order they took effect (unknown ones included). */
  order: number[];
  /** The state after `order`. */
  state: S;
  /**
   * The completed operations that could have come next (their calls precede the first
   * pending return). None of them can take effect from here, whatever unknown-outcome
   * operations take effect first.
   */
  next: number[];
}

export interface SearchOutcome<S> {
  result: SearchResult;
  /** With `trace`, when illegal. */
  deepest?: Deepest<S>;
  /**
   * When illegal: the furthest position, in the real-time order of events, that the
   * first pending return ever reached. Every operation returning before it fits an
   * order, so the history up to that event is linearizable; the shortest illegal
   * prefix usually ends with the return at this position.
   */
  frontier?: number;
}

/**
 * The walk looks at the operations that may come next in three passes:
 *  1. completed read-only operations (Model.readOnly): one that is legal now is
 *     taken without branching. Taking it now is never worse than later, since it
 *     leaves the state alone and nothing unlinearized must precede it (its call is
 *     before every pending return).
 *  2. other completed operations, each tried in turn;
 *  3. unknown-outcome operations, tried only when nothing completed fits (and of
 *     several with equal inputs, Model.inputKey, only the earliest-invoked unused one).
 * The passes only steer the search; every choice in 2 and 3 is still tried.
 */
const FORCE_READS = 0;
const TRY_WRITES = 1;
const TRY_UNKNOWN = 2;
const PASSES = 3;

/** How many search steps between looks at the clock. */
const CLOCK_EVERY_STEPS = 1024;
/**
 * The memo's bound (a few hundred MB at most). A search that would need more gives
 * up with 'unknown', as when out of time; at typical speeds the time budget ends
 * most searches well before this.
 */
export const MAX_EXPLORED_POINTS = 2_000_000;

interface EventNode {
  opIndex: number;
  /** Index in the real-time order of all events. */
  position: number;
  /** For a call: its return (null for an unknown operation). */
  ret: EventNode | null;
  prev: EventNode | null;
  next: EventNode | null;
}

function sentinel(): EventNode {
  return { opIndex: -1, position: -1, ret: null, prev: null, next: null };
}

function unlink(node: EventNode): void {
  node.prev!.next = node.next;
  if (node.next !== null) node.next.prev = node.prev;
}

function relink(node: EventNode): void {
  node.prev!.next = node;
  if (node.next !== null) node.next.prev = node;
}

/** Removes a call and its return; unlifts must undo lifts in reverse order. */
function lift(call: EventNode): void {
  unlink(call);
  if (call.ret !== null) unlink(call.ret);
}

function unlift(call: EventNode): void {
  if (call.ret !== null) relink(call.ret);
  relink(call);
}

interface Choice<S> {
  call: EventNode;
  stateBefore: S;
  pass: number;
  /** Taken in pass 1: there is no alternative to try when it fails. */
  forced: boolean;
}

/**
 * Is there an order of `ops`, starting from any of `starts`, that respects real time
 * and the model? With `trace`, a failed search also reports the deepest point it
 * reached. The start states share one memo: a point explored from one is not
 * explored again from another.
 */
export function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  starts: readonly S[],
  budget: Budget,
  trace = false,
): SearchOutcome<S> {
  const events = orderEvents(ops as readonly Operation<unknown, unknown>[]);
  // Which pass considers each operation. Completed and unknown ones get separate bit
  // positions, in call order (which keeps memo keys short: see Bitset.key).
  const passOf: number[] = ops.map((op) =>
    op.status !== 'ok' ? TRY_UNKNOWN : model.readOnly?.(op.input, op.output as O) ? FORCE_READS : TRY_WRITES,
  );
  const bit: number[] = new Array(ops.length);
  let okCount = 0;
  let unknownCount = 0;
  for (const event of events) {
    if (event.isCall) bit[event.opIndex] = ops[event.opIndex].status === 'ok' ? okCount++ : unknownCount++;
  }

  // One list of calls per pass, one list of returns.
  const calls = Array.from({ length: PASSES }, sentinel);
  const returns = sentinel();
  const tails = [...calls];
  let returnsTail = returns;
  const callOf: EventNode[] = new Array(ops.length);
  events.forEach((event, position) => {
    const i = event.opIndex;
    if (event.isCall) {
      const node: EventNode = { opIndex: i, position, ret: null, prev: tails[passOf[i]], next: null };
      tails[passOf[i]].next = node;
      tails[passOf[i]] = node;
      callOf[i] = node;
    } else {
      const node: EventNode = { opIndex: i, position, ret: null, prev: returnsTail, next: null };
      returnsTail.next = node;
      returnsTail = node;
      callOf[i].ret = node;
    }
  });
  const used = calls.map((list) => list.next !== null);
  const nextPass = (pass: number): number => {
    let p = pass + 1;
    while (p < PASSES && !used[p]) p++;
    return p;
  };
  const firstPass = used[FORCE_READS] ? FORCE_READS : nextPass(FORCE_READS);
  // Unknown operations with equal inputs are interchangeable: only the earliest unused one may be tried.
  const twinBefore = new Array<number>(ops.length).fill(-1);
  if (model.inputKey !== undefined) {
    const lastWithKey = new Map<string, number>();
    for (let n = calls[TRY_UNKNOWN].next; n !== null; n = n.next) {
      const key = model.inputKey(ops[n.opIndex].input);
      twinBefore[n.opIndex] = lastWithKey.get(key) ?? -1;
      lastWithKey.set(key, n.opIndex);
    }
  }
  const firstReturn = (): number => (returns.next === null ? Infinity : returns.next.position);

  const completed = new Bitset(okCount);
  const unknowns = new Bitset(unknownCount);
  const explored = new ExploredPoints(unknownCount > 0);
  const stack: Choice<S>[] = [];
  let okRemaining = okCount;
  let root = 0;
  let state = starts[0];
  let deepest: Deepest<S> | undefined;
  let deepestOk = -1;
  const record = (): void => {
    deepestOk = okCount - okRemaining;
    const limit = firstReturn();
    const next: EventNode[] = [];
    for (const pass of [FORCE_READS, TRY_WRITES]) {
      for (let n = calls[pass].next; n !== null && n.position < limit; n = n.next) next.push(n);
    }
    next.sort((a, b) => a.position - b.position);
    deepest = { start: starts[root], order: stack.map((c) => c.call.opIndex), state, next: next.map((n) => n.opIndex) };
  };
  if (starts.length === 0) return { result: 'illegal', frontier: -1 };
  if (trace) record();

  let pass = firstPass;
  let node = calls[pass].next;
  let limit = firstReturn();
  let frontier = limit;
  let steps = 0;

  for (;;) {
    if (okRemaining === 0) return { result: 'ok' };
    if (++steps % CLOCK_EVERY_STEPS === 0) {
      if (budget.now() > budget.deadline || explored.size > MAX_EXPLORED_POINTS) return { result: 'unknown' };
    }

    let dead = false;
    if (node !== null && node.position < limit) {
      const i = node.opIndex;
      const op = ops[i];
      const isOk = op.status === 'ok';
      if (!isOk && twinBefore[i] >= 0 && !unknowns.has(bit[twinBefore[i]])) {
        node = node.next;
        continue;
      }
      const next = model.step(state, op.input, isOk ? op.output : undefined);
      if (next === undefined) {
        node = node.next;
        continue;
      }
      const set = isOk ? completed : unknowns;
      set.set(bit[i]);
      if (explored.visit(completed.key() + '|' + model.key(next), unknowns)) {
        stack.push({ call: node, stateBefore: state, pass, forced: pass === FORCE_READS });
        state = next;
        if (isOk) okRemaining--;
        lift(node);
        if (trace && okCount - okRemaining > deepestOk) record();
        pass = firstPass;
        node = calls[pass].next;
        limit = firstReturn();
        if (limit > frontier) frontier = limit;
        continue;
      }
      set.clear(bit[i]);
      if (pass !== FORCE_READS) {
        node = node.next;
        continue;
      }
      // A read that fits, already explored from here: so is this point.
      dead = true;
    }

    // This pass has no more candidates: go on to the next pass.
    if (!dead && nextPass(pass) < PASSES) {
      pass = nextPass(pass);
      node = calls[pass].next;
      continue;
    }
    // Nothing fits here: undo choices back to the last one with alternatives, and try the next.
    for (;;) {
      const undone = stack.pop();
      if (undone === undefined) {
        // Everything from this start state failed: on to the next one.
        if (++root === starts.length) return { result: 'illegal', deepest, frontier };
        state = starts[root];
        pass = firstPass;
        node = calls[pass].next;
        limit = firstReturn();
        break;
      }
      state = undone.stateBefore;
      const i = undone.call.opIndex;
      if (ops[i].status === 'ok') {
        completed.clear(bit[i]);
        okRemaining++;
      } else {
        unknowns.clear(bit[i]);
      }
      unlift(undone.call);
      if (undone.forced) continue;
      pass = undone.pass;
      node = undone.call.next;
      limit = firstReturn();
      break;
    }
  }
}
