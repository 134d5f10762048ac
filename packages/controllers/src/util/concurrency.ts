/**
 * Issuing independent writes concurrently, with a bound. A controller that
 * awaits each write before the next pays one Raft round trip per object; a
 * few dozen writes in flight share one round (the master batches proposals
 * that arrive together), which is what makes 1,000 pods cheap.
 *
 * Leadership loss (`NotLeaderError`) always wins: no new write starts after
 * one task saw it, and it is rethrown once the writes already in flight settle.
 */
import { NotLeaderError } from '../client.js';

/** Writes in flight at once for one controller (Kubernetes' client QPS is far lower; Raft batching likes more). */
export const DEFAULT_MAX_IN_FLIGHT = 64;

export interface SlowStartResult {
  /** Tasks that resolved. */
  succeeded: number;
  /** Tasks never started because an earlier batch had an error. */
  skipped: number;
  /** The errors of the last batch (empty when every task succeeded). */
  errors: unknown[];
  /** The size the next batch would have had: where a caller may resume after a batch that all succeeded. */
  nextBatch: number;
}

/**
 * Kubernetes' slowStartBatch: run `count` tasks in batches of 1, 2, 4, ... (at
 * most `maxBatch`), all tasks of a batch concurrently, and stop after the first
 * batch with an error, so a request that fails for everyone (quota, invalid
 * template) fails once or twice rather than `count` times.
 */
export async function slowStartBatch(
  count: number,
  task: (index: number) => Promise<void>,
  options: { initialBatch?: number; maxBatch?: number } = {},
): Promise<SlowStartResult> {
  const maxBatch = Math.max(1, options.maxBatch ?? DEFAULT_MAX_IN_FLIGHT);
  let batch = Math.max(1, Math.min(options.initialBatch ?? 1, maxBatch));
  let started = 0;
  let succeeded = 0;
  while (started < count) {
    const size = Math.min(batch, count - started);
    const results = await Promise.allSettled(Array.from({ length: size }, (_, i) => task(started + i)));
    started += size;
    const errors: unknown[] = [];
    for (const r of results) {
      if (r.status === 'fulfilled') succeeded++;
      else errors.push(r.reason);
    }
    const lost = errors.find((e) => e instanceof NotLeaderError);
    if (lost) throw lost;
    if (errors.length > 0) return { succeeded, skipped: count - started, errors, nextBatch: 1 };
    batch = Math.min(batch * 2, maxBatch);
  }
  return { succeeded, skipped: 0, errors: [], nextBatch: batch };
}

/**
 * Runs `task` for every item with at most `limit` in flight. Tasks handle
 * their own errors (e.g. through `ControllerReport.guard`); an error that
 * escapes one stops new tasks from starting and is rethrown (the first one)
 * after the tasks in flight settle.
 */
export async function forEachBounded<T>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  const bound = Math.max(1, Math.floor(limit));
  let next = 0;
  const failures: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (failures.length === 0 && next < items.length) {
      const index = next++;
      try {
        await task(items[index], index);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(bound, items.length) }, worker));
  // Leadership loss outranks any other failure.
  if (failures.length > 0) throw failures.find((e) => e instanceof NotLeaderError) ?? failures[0];
}
