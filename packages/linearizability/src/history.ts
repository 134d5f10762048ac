// Validating a history and turning it into the event sequence the search walks.

import type { Operation } from './types.js';

export type AnyOperation = Operation<unknown, unknown>;

/** A call or return of ops[opIndex]. Unknown operations have no return event. */
export interface HistoryEvent {
  opIndex: number;
  isCall: boolean;
}

/** Throws an Error naming the operation and field when a history is malformed. */
export function validateHistory(ops: readonly AnyOperation[]): void {
  const seen = new Set<number>();
  for (const op of ops) {
    if (seen.has(op.id)) throw new Error(`operation ${op.id}: id is not unique in the history`);
    seen.add(op.id);
    if (!Number.isFinite(op.call)) {
      throw new Error(`operation ${op.id}: call must be a finite number (got ${op.call})`);
    }
    if (op.status === 'ok') {
      if (!Number.isFinite(op.return)) {
        throw new Error(`operation ${op.id}: return of an 'ok' operation must be finite (got ${op.return})`);
      }
      if (op.return < op.call) {
        throw new Error(`operation ${op.id}: return must be >= call (got call ${op.call}, return ${op.return})`);
      }
      if (op.output === undefined) {
        throw new Error(`operation ${op.id}: an 'ok' operation needs an output`);
      }
    } else if (op.status !== 'unknown') {
      throw new Error(`operation ${op.id}: status must be 'ok' or 'unknown' (got ${String(op.status)})`);
    }
  }
}

/** Order of events at one instant. */
const Phase = {
  /** Return of an operation that started earlier. */
  Return: 0,
  /** Call or return of a zero-length operation (call == return). */
  Instant: 1,
  /** Call of an operation that ends later (or never: unknown). */
  Call: 2,
} as const;
type Phase = (typeof Phase)[keyof typeof Phase];

interface Sortable {
  time: number;
  phase: Phase;
  id: number;
  isCall: boolean;
  opIndex: number;
}

/**
 * The calls and returns of `ops` in the order the checker respects:
 * by time; at equal times, returns first, then zero-length operations (each call
 * immediately followed by its return, by id), then calls. So `a.return <= b.call`
 * means a precedes b. Ties otherwise go by id, which keeps the order deterministic.
 */
export function orderEvents(ops: readonly AnyOperation[]): HistoryEvent[] {
  const events: Sortable[] = [];
  ops.forEach((op, opIndex) => {
    if (op.status === 'ok' && op.return === op.call) {
      events.push({ time: op.call, phase: Phase.Instant, id: op.id, isCall: true, opIndex });
      events.push({ time: op.call, phase: Phase.Instant, id: op.id, isCall: false, opIndex });
      return;
    }
    events.push({ time: op.call, phase: Phase.Call, id: op.id, isCall: true, opIndex });
    if (op.status === 'ok') {
      events.push({ time: op.return, phase: Phase.Return, id: op.id, isCall: false, opIndex });
    }
  });
  events.sort(
    (a, b) =>
      a.time - b.time ||
      a.phase - b.phase ||
      a.id - b.id ||
      // Only a zero-length operation has two events with the same time, phase and id.
      (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1),
  );
  return events.map(({ opIndex, isCall }) => ({ opIndex, isCall }));
}

/** A copy of `op` whose outcome is forgotten: it may or may not have taken effect. */
export function asUnknown<I, O>(op: Operation<I, O>): Operation<I, O> {
  const { output: _ignored, ...rest } = op;
  return { ...rest, status: 'unknown', return: Infinity };
}
