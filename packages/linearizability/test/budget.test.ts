import { describe, expect, it } from 'vitest';
import { checkOperations, kvModel } from '../src/index.js';
import { History } from './helpers.js';

/**
 * `writers` concurrent puts, then a read of a value none wrote: illegal, but only
 * after trying every subset of the puts (2^writers points).
 */
function adversarial(writers: number, key = 'x'): History {
  const h = new History();
  for (let i = 0; i < writers; i++) h.put(i, key, `v${i}`, [0, 100]);
  // Concurrent reads of each value keep the values observed (so they stay distinct states).
  for (let i = 0; i < writers; i++) h.get(writers + i, key, `v${i}`, [0, 100]);
  h.get(0, key, 'never written', [200, 201]);
  return h;
}

describe('time budget', () => {
  it('a large adversarial history with a tiny budget returns unknown quickly', () => {
    const started = performance.now();
    const result = checkOperations(kvModel, adversarial(40).ops, { timeoutMs: 20 });
    const tookMs = performance.now() - started;
    expect(result.result).toBe('unknown');
    expect(result.violation).toBeUndefined();
    expect(tookMs).toBeLessThan(1_000);
  });

  it('uses the injected clock', () => {
    let ticks = 0;
    const now = (): number => ticks++;
    const result = checkOperations(kvModel, adversarial(40).ops, { timeoutMs: 50, now });
    expect(result.result).toBe('unknown');
    expect(result.elapsedMs).toBeGreaterThanOrEqual(50);
    expect(result.elapsedMs).toBeLessThan(60); // the clock is read about once per 1024 steps
  });

  it('small partitions are checked first, so a violation there is still found', () => {
    const h = adversarial(40, 'big');
    h.put(1, 'small', '1', [0, 1]).put(1, 'small', '2', [2, 3]).get(2, 'small', '1', [4, 5]);
    const result = checkOperations(kvModel, h.ops, { timeoutMs: 20 });
    expect(result.result).toBe('illegal');
    expect(result.violation!.partitionKey).toBe('small');
  });
});
