import { describe, expect, it } from 'vitest';
import { checkOperations, formatViolation, kvModel } from '../src/index.js';
import { History } from './helpers.js';

describe('formatViolation', () => {
  it('one line per operation of the window (id, client, interval, description), then the explanation', () => {
    const h = new History()
      .put(1, 'x', '1', [0, 10])
      .put(1, 'x', '2', [20, 30])
      .put(3, 'x', '3', [25]) // unknown outcome
      .get(2, 'x', '1', [40, 50]);
    const result = checkOperations(kvModel, h.ops);
    const text = formatViolation(result, kvModel);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^not linearizable on x: 3-operation window \(4 operations in 1 partition, [\d.]+ ms\)$/);
    expect(lines[1]).toMatch(/#1 +client 1 +\[20, 30\] .*\|=*\| +put\(x, 2\)$/);
    expect(lines[2]).toMatch(/#2 +client 3 +\[25, ∞\] .*\|-*> put\(x, 3\) -> \?$/);
    expect(lines[3]).toMatch(/#3 +client 2 +\[40, 50\] .* get\(x\) -> 1$/);
    expect(lines[4]).toContain('No order of these 3 operations');
    expect(text).toContain(result.violation!.explanation.split('\n')[1]);
  });

  it('a one-line summary when there is nothing to show', () => {
    const ok = checkOperations(kvModel, new History().put(1, 'x', '1', [0, 1]).ops);
    expect(formatViolation(ok, kvModel)).toMatch(/^linearizable: 1 operation in 1 partition, [\d.]+ ms$/);
    const unknown = { result: 'unknown' as const, ops: 5, partitions: 2, elapsedMs: 10 };
    expect(formatViolation(unknown, kvModel)).toBe('unknown (time budget exhausted): 5 operations in 2 partitions, 10 ms');
  });
});
