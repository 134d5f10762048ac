import { describe, expect, it } from 'vitest';
import { checkOperations, kvModel } from '../src/index.js';
import { randomLinearizableHistory } from './helpers.js';

describe('speed on simulator-sized histories', () => {
  it('a 2,000-operation, 10-key linearizable history checks in well under a second', () => {
    const ops = randomLinearizableHistory({ ops: 2000, keys: 10, clients: 8, unknownRate: 0.05, seed: 1 });
    const result = checkOperations(kvModel, ops);
    expect(result).toMatchObject({ result: 'ok', ops: 2000, partitions: 10 });
    expect(result.elapsedMs).toBeLessThan(500);
  });

  it('many seeds of 200-2,000 operations over 5-20 keys are all linearizable, each fast', () => {
    let slowestMs = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const ops = randomLinearizableHistory({
        ops: 200 + seed * 90,
        keys: 5 + (seed % 16),
        clients: 3 + (seed % 6),
        unknownRate: (seed % 4) * 0.03,
        seed,
      });
      const result = checkOperations(kvModel, ops);
      expect(result.result, `seed ${seed}`).toBe('ok');
      slowestMs = Math.max(slowestMs, result.elapsedMs);
    }
    expect(slowestMs).toBeLessThan(500);
  });

  it('a 2,000-operation history on one hot key with 10 clients and timeouts still finishes', () => {
    const ops = randomLinearizableHistory({ ops: 2000, keys: 1, clients: 10, unknownRate: 0.05, seed: 3 });
    const result = checkOperations(kvModel, ops, { timeoutMs: 20_000 });
    expect(result.result).toBe('ok');
  });

  it('finds and shrinks a stale read in a 2,000-operation history quickly', () => {
    const ops = randomLinearizableHistory({ ops: 2000, keys: 10, clients: 8, unknownRate: 0.05, seed: 5 });
    const onK3 = ops.filter((op) => op.input.key === 'k3' && op.status === 'ok');
    const firstPut = onK3.find((op) => op.input.op === 'put')!;
    const stale = (firstPut.input as { value: string }).value;
    const lastGet = [...onK3].reverse().find((op) => op.output?.op === 'get' && op.output.value !== stale)!;
    lastGet.output = { op: 'get', value: stale };
    const result = checkOperations(kvModel, ops);
    expect(result.result).toBe('illegal');
    expect(result.violation!.partitionKey).toBe('k3');
    expect(result.violation!.window.map((op) => op.id)).toContain(lastGet.id);
    expect(result.elapsedMs).toBeLessThan(1_000);
  });
});
