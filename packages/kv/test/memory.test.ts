import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { KvStore, prefixEnd } from '../src/index.js';
import { put } from './helpers.js';

function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
}

describe('memory and scale', () => {
  it('10,000 keys with 100-byte values stay small', () => {
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    const s = new KvStore();
    const value = 'x'.repeat(100);
    for (let i = 0; i < 10_000; i++) s.apply(put(`/registry/configmaps/ns-${i % 10}/cm-${i}`, value));
    collectGarbage();
    const oneVersion = process.memoryUsage().heapUsed - before;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 10_000; i++) s.apply(put(`/registry/configmaps/ns-${i % 10}/cm-${i}`, `${round}${value.slice(1)}`));
    }
    collectGarbage();
    const threeVersions = process.memoryUsage().heapUsed - before;
    const stats = s.stats();
    console.log(
      `kv memory: 10,000 keys x 100 B: heapUsed +${(oneVersion / 1e6).toFixed(1)} MB; with 3 versions each: +${(threeVersions / 1e6).toFixed(1)} MB (stats.approxBytes ${(stats.approxBytes / 1e6).toFixed(1)} MB, ${stats.revisions} versions)`,
    );
    expect(stats).toMatchObject({ keys: 10_000, revisions: 30_000 });
    expect(oneVersion).toBeLessThan(60e6);
    expect(threeVersions).toBeLessThan(60e6);

    // Ordered index: a limited prefix read touches O(log n + k) keys for its kvs.
    const t = performance.now();
    for (let i = 0; i < 1_000; i++) s.range({ key: '/registry/configmaps/ns-3/', rangeEnd: prefixEnd('/registry/configmaps/ns-3/'), limit: 10, countOnly: false });
    console.log(`kv range: 1,000 prefix reads (limit 10, count over 1,000 keys) in ${(performance.now() - t).toFixed(0)} ms`);
  });
});
