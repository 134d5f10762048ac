// The Wing–Gong–Lowe search over one partition.
//
// The history is a doubly linked list of call and return events in real-time order.
// Walking from the front, the search may linearize (take effect) any operation whose
// call it meets before the first return still in the list: it applies the model step,
// removes ("lifts") the operation's call and return from the list and starts again
// from the front. Meeting a return means that operation should already have taken
// effect, so the search undoes ("unlifts") the last choice and tries the next call
// after it. A memo of (set of linearized operations, model state) pairs that were
// already explored keeps the search from repeating itself.
//
// Unknown operations have no return event, so they never force an order and may be
// left out: the search succeeds once every 'ok' operation is linearized.

import { Bitset } from './bitset.js';
import { orderEvents } from './history.js';
import type { Model, Operation } from './types.js';

/** Wall-clock limit of a search, in the units of `now`. */
export interface Budget {
  now: () => number;
  deadline: number;
}

export type SearchResult = 'ok' | 'illegal' | 'unknown';

/** The furthest a failed search got: the basis of a violation's explanation. */
export interface Deepest<S> {
  /** Indexes into the searched ops, in the order they took effect. */
  order: number[];
  /** The state after `order`. */
  state: S;
  /** The operation whose return was next in real time: it had to take effect first. */
  blockedBy: number | undefined;
}

interface ListNode {
  opIndex: number;
  isCall: boolean;
  /** For a call: its return (null for an unknown operation). */
  match: ListNode | null;
  prev: ListNode | null;
  next: ListNode | null;
}

/** How many search steps between looks at the clock. */
const CLOCK_EVERY_STEPS = 1024;

function buildList(ops: readonly Operation<unknown, unknown>[]): ListNode {
  const head: ListNode = { opIndex: -1, isCall: false, match: null, prev: null, next: null };
  const calls: (ListNode | undefined)[] = new Array(ops.length);
  let tail = head;
  for (const event of orderEvents(ops)) {
    const node: ListNode = { opIndex: event.opIndex, isCall: event.isCall, match: null, prev: tail, next: null };
    if (event.isCall) {
      calls[event.opIndex] = node;
    } else {
      const call = calls[event.opIndex];
      if (call === undefined) throw new Error(`internal: return of operation ${ops[event.opIndex].id} before its call`);
      call.match = node;
    }
    tail.next = node;
    tail = node;
  }
  return head;
}

function unlink(node: ListNode): void {
  node.prev!.next = node.next;
  if (node.next !== null) node.next.prev = node.prev;
}

function relink(node: ListNode): void {
  node.prev!.next = node;
  if (node.next !== null) node.next.prev = node;
}

/** Removes a call and its return; `unlift` must undo lifts in reverse order. */
function lift(call: ListNode): void {
  unlink(call);
  if (call.match !== null) unlink(call.match);
}

function unlift(call: ListNode): void {
  if (call.match !== null) relink(call.match);
  relink(call);
}

function firstReturn(head: ListNode): number | undefined {
  for (let node = head.next; node !== null; node = node.next) {
    if (!node.isCall) return node.opIndex;
  }
  return undefined;
}

/**
 * Is there an order of `ops`, starting from `start`, that respects real time and the
 * model? With `trace`, a failed search also reports the deepest point it reached.
 */
export function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  start: S,
  budget: Budget,
  trace = false,
): { result: SearchResult; deepest?: Deepest<S> } {
  const head = buildList(ops as readonly Operation<unknown, unknown>[]);
  const linearized = new Bitset(ops.length);
  const memo = new Set<string>();
  const stackNodes: ListNode[] = [];
  const stackStates: S[] = [];
  let okRemaining = ops.reduce((n, op) => (op.status === 'ok' ? n + 1 : n), 0);
  let state = start;
  let deepest: Deepest<S> | undefined = trace
    ? { order: [], state, blockedBy: firstReturn(head) }
    : undefined;
  let node = head.next;
  let steps = 0;

  for (;;) {
    if (okRemaining === 0) return { result: 'ok' };
    if (++steps % CLOCK_EVERY_STEPS === 0 && budget.now() > budget.deadline) return { result: 'unknown' };
    // While an 'ok' operation is unlinearized its return is still in the list, and the
    // walk never passes a return without stopping, so it cannot fall off the end.
    if (node === null) throw new Error('internal: search walked past the last return');

    if (node.isCall) {
      const op = ops[node.opIndex];
      const next = model.step(state, op.input, op.status === 'ok' ? op.output : undefined);
      if (next !== undefined) {
        linearized.set(node.opIndex);
        const key = linearized.key() + '|' + model.key(next);
        if (!memo.has(key)) {
          memo.add(key);
          stackNodes.push(node);
          stackStates.push(state);
          state = next;
          if (op.status === 'ok') okRemaining--;
          lift(node);
          if (deepest !== undefined && stackNodes.length > deepest.order.length) {
            deepest = { order: stackNodes.map((n) => n.opIndex), state, blockedBy: firstReturn(head) };
          }
          node = head.next;
          continue;
        }
        linearized.clear(node.opIndex);
      }
      node = node.next;
      continue;
    }

    // A return: that operation had to take effect by now. Undo the last choice.
    const undone = stackNodes.pop();
    if (undone === undefined) return { result: 'illegal', deepest };
    state = stackStates.pop()!;
    linearized.clear(undone.opIndex);
    if (ops[undone.opIndex].status === 'ok') okRemaining++;
    unlift(undone);
    node = undone.next;
  }
}
