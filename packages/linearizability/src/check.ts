// checkOperations: partition, search each partition, shrink and explain a violation.

import { explainViolation } from './explain.js';
import { asUnknown, validateHistory } from './history.js';
import { searchPartition, type Budget } from './search.js';
import type { CheckOptions, CheckResult, Model, Operation } from './types.js';
import { shrinkWindow } from './window.js';

export const DEFAULT_TIMEOUT_MS = 10_000;
/** Shrinking a found violation may run this much past the budget (capped by timeoutMs itself). */
export const MAX_SHRINK_MS = 2_000;

/**
 * Is `ops` linearizable with respect to `model`? Partitions are checked smallest
 * first; the first illegal one is shrunk to a short window and explained.
 * Never runs much past `timeoutMs` (plus up to MAX_SHRINK_MS to shrink a violation);
 * when out of time the result is 'unknown' unless some partition was already illegal.
 * Throws if the history is malformed (duplicate ids, an 'ok' operation without output, ...).
 */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  opts: CheckOptions = {},
): CheckResult {
  const now = opts.now ?? (() => performance.now());
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = now();
  validateHistory(ops as Operation<unknown, unknown>[]);
  const originals = new Map(ops.map((op) => [op.id, op]));
  const partitions = (model.partition ? model.partition(ops) : [ops])
    .filter((p) => p.length > 0)
    .sort((a, b) => a.length - b.length);
  const budget: Budget = { now, deadline: started + timeoutMs };
  const summary = { ops: ops.length, partitions: partitions.length };

  let outOfTime = false;
  for (const partition of partitions) {
    // Past the deadline each search still takes up to one clock interval, so small
    // partitions still get an answer.
    const { result, frontier } = searchPartition(model, partition, [model.init()], budget);
    if (result === 'unknown') outOfTime = true;
    if (result !== 'illegal') continue;

    const shrinkBudget: Budget = { now, deadline: Math.max(budget.deadline, now() + Math.min(timeoutMs, MAX_SHRINK_MS)) };
    const shrunk = shrinkWindow(model, partition, shrinkBudget, frontier);
    const partitionKey = model.partitionKey?.(partition);
    // The model's partition() may have rewritten operations (kv: unobserved values);
    // report the caller's own, with the window's outcome.
    const window = shrunk.window.map((op) => {
      const original = originals.get(op.id);
      if (original === undefined) return op;
      return op.status === original.status ? original : asUnknown(original);
    });
    return {
      result: 'illegal',
      ...summary,
      elapsedMs: now() - started,
      violation: {
        ...(partitionKey === undefined ? {} : { partitionKey }),
        window,
        explanation: explainViolation(model, shrunk, window, originals, partitionKey),
      },
    };
  }
  return { result: outOfTime ? 'unknown' : 'ok', ...summary, elapsedMs: now() - started };
}
