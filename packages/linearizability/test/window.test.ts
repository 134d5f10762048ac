import { describe, expect, it } from 'vitest';
import { checkOperations, kvModel, type KvOperation } from '../src/index.js';
import { History, randomLinearizableHistory } from './helpers.js';

/** A long healthy history on two keys with one stale read injected late on k0. */
function historyWithStaleRead(): { ops: KvOperation[]; staleId: number } {
  const ops = randomLinearizableHistory({ ops: 600, keys: 2, clients: 5, unknownRate: 0.05, seed: 11 });
  const onK0 = ops.filter((op) => op.input.key === 'k0' && op.status === 'ok');
  const early = onK0.find((op) => op.input.op === 'put')!;
  const earlyValue = (early.input as { value: string }).value;
  const lastCall = Math.max(...ops.map((op) => op.call));
  const late = onK0.find(
    (op) => op.input.op === 'get' && op.call > lastCall / 2 && op.output?.op === 'get' && op.output.value !== earlyValue,
  )!;
  late.output = { op: 'get', value: earlyValue };
  return { ops, staleId: late.id };
}

describe('violation window', () => {
  it('is much shorter than the history, illegal on its own, and contains the bad read', () => {
    const { ops, staleId } = historyWithStaleRead();
    const result = checkOperations(kvModel, ops);
    expect(result.result).toBe('illegal');
    const violation = result.violation!;
    expect(violation.partitionKey).toBe('k0');
    // Unknown-outcome writes from long before stay in: they might take effect at any time.
    const completed = violation.window.filter((op) => op.status === 'ok');
    expect(completed.length).toBeLessThan(8);
    expect(violation.window.length).toBeLessThan(20);
    expect(violation.window.map((op) => op.id)).toContain(staleId);
    expect(checkOperations(kvModel, violation.window as KvOperation[]).result).toBe('illegal');
  });

  it('holds the caller’s own operations (not the model’s rewritten copies)', () => {
    const { ops } = historyWithStaleRead();
    const byId = new Map(ops.map((op) => [op.id, op]));
    const result = checkOperations(kvModel, ops);
    for (const op of result.violation!.window as KvOperation[]) {
      expect(op.input).toEqual(byId.get(op.id)!.input);
    }
  });

  it('stale read: keeps the overwriting put, drops the history before it', () => {
    const h = new History()
      .put(1, 'x', '0', [0, 1])
      .get(2, 'x', '0', [2, 3])
      .put(1, 'x', '1', [4, 5])
      .put(1, 'x', '2', [6, 7])
      .get(2, 'x', '1', [8, 9]);
    const result = checkOperations(kvModel, h.ops);
    expect(result.violation!.window.map((op) => op.id)).toEqual([3, 4]);
    expect(result.violation!.explanation).toMatch(/could have left \(null, "1"/);
  });

  it('never blames a read on a missing write that the full history has', () => {
    // get -> 7 alone would be illegal, but 7 was written; the real problem is put 8 in between.
    const h = new History().put(1, 'x', '7', [0, 1]).put(1, 'x', '8', [2, 3]).get(2, 'x', '7', [4, 5]);
    const window = checkOperations(kvModel, h.ops).violation!.window;
    expect(window.map((op) => op.id)).toEqual([1, 2]);
  });

  it('ends at the operation that cannot be explained, cutting everything after it', () => {
    const h = new History()
      .put(1, 'x', '1', [0, 1])
      .get(2, 'x', '9', [2, 3])
      .put(1, 'x', '2', [4, 5])
      .get(2, 'x', '2', [6, 7])
      .put(1, 'x', '3', [8, 9]);
    const window = checkOperations(kvModel, h.ops).violation!.window;
    expect(window.map((op) => op.id)).toEqual([1]);
  });

  it('shows operations still running at the cut as unknown, and says so', () => {
    const h = new History()
      .put(1, 'x', '1', [0, 1])
      .put(3, 'x', '5', [1.5, 20]) // still running when the bad read returns
      .put(1, 'x', '2', [2, 3])
      .get(2, 'x', '1', [4, 5]);
    const result = checkOperations(kvModel, h.ops);
    const running = result.violation!.window.find((op) => op.id === 1);
    expect(running).toMatchObject({ status: 'unknown', return: Infinity });
    expect(result.violation!.explanation).toMatch(/Still running where the window was cut.*put\(x, 5\) #1 \(returned at 20\)/);
    expect(checkOperations(kvModel, result.violation!.window as KvOperation[]).result).toBe('illegal');
  });

  it('explains how far any order gets and what cannot follow', () => {
    const h = new History().put(1, 'x', '1', [0, 1]).put(1, 'x', '2', [2, 3]).get(2, 'x', '1', [4, 5]);
    const explanation = checkOperations(kvModel, h.ops).violation!.explanation;
    expect(explanation).toContain('No order of these 2 operations');
    expect(explanation).toContain('put(x, 2) #1, leaving "2"');
    expect(explanation).toContain('none of the operations that may come next can take effect: get(x) -> 1 #2');
  });
});
