import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyIndex, KeyVersion } from '../src/history.js';

// The ordered index is internal; it is tested directly with tiny chunks so
// that splits and multi-chunk scans happen on small inputs.
describe('KeyIndex (sorted chunks)', () => {
  it('scans = a sorted array filtered by range, through inserts, removals and splits', () => {
    const key = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '\0', '\xff'), maxLength: 4 });
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.array(fc.oneof(key.map((k) => ({ add: k })), key.map((k) => ({ drop: k })), fc.tuple(key, fc.option(key, { nil: null })).map(([from, to]) => ({ from, to }))), { maxLength: 120 }),
        (chunkSize, ops) => {
          const index = new KeyIndex(chunkSize);
          const model = new Set<string>();
          for (const op of ops) {
            if ('add' in op) {
              index.getOrCreate(op.add).versions.push(new KeyVersion(1, 0, 'v', 1, 1, 0));
              model.add(op.add);
            } else if ('drop' in op) {
              const h = index.get(op.drop);
              if (h) h.versions = [];
              model.delete(op.drop);
              index.removeEmpty();
            } else {
              const seen: string[] = [];
              index.scan(op.from, op.to, (h) => void seen.push(h.key));
              expect(seen).toEqual([...model].filter((k) => k >= op.from && (op.to === null || k < op.to)).sort());
            }
            expect(index.size).toBe(model.size);
            expect(index.all().map((h) => h.key)).toEqual([...model].sort());
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a visitor returning false stops the scan', () => {
    const index = new KeyIndex(2);
    for (const k of ['e', 'a', 'd', 'b', 'c']) index.getOrCreate(k);
    const seen: string[] = [];
    index.scan('b', null, (h) => {
      seen.push(h.key);
      return seen.length < 3;
    });
    expect(seen).toEqual(['b', 'c', 'd']);
  });
});
