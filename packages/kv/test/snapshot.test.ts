import { describe, expect, it } from 'vitest';
import { KvStore, SNAPSHOT_FORMAT, prefixEnd } from '../src/index.js';
import { expectKvError, put, recorder } from './helpers.js';

const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

function busyStore(): KvStore {
  const s = new KvStore();
  s.apply({ type: 'leaseGrant', id: 4, ttlSeconds: 15 });
  s.apply({ type: 'leaseGrant', id: 2, ttlSeconds: 30 });
  s.apply(put('bin\0\xff', '\0\x01\xfe\xff'));
  s.apply(put('uni', 'lone \ud800 surrogate and \u2603'));
  s.apply(put('n/1', 'a', { lease: 4 }));
  s.apply(put('n/2', 'a', { lease: 2 }));
  s.apply({ type: 'txn', compare: [], success: [{ put: { key: 't/b', value: '1' } }, { put: { key: 't/a', value: '1' } }, { deleteRange: { key: 'n/2' } }], failure: [] });
  s.apply(put('n/1', 'b', { lease: 4 }));
  s.apply({ type: 'compact', revision: 5 });
  s.apply(put('t/a', '2'));
  return s;
}

describe('snapshot and restore', () => {
  it('restores an identical store: bytes, hash, reads, leases, watch replay, later applies', () => {
    const s = busyStore();
    const r = KvStore.restore(s.snapshot());
    expect(r.snapshot()).toEqual(s.snapshot());
    expect(r.hash()).toBe(s.hash());
    expect(r.revision).toBe(s.revision);
    expect(r.compactRevision).toBe(5);
    expect(r.leases()).toEqual(s.leases());
    for (let rev = 5; rev <= s.revision; rev++) {
      expect(r.range({ key: '\0', rangeEnd: '\0', revision: rev })).toEqual(s.range({ key: '\0', rangeEnd: '\0', revision: rev }));
    }
    expect(r.range({ key: 'uni' }).kvs[0].value).toBe('lone \ud800 surrogate and \u2603');
    expect(r.range({ key: 'bin\0\xff' }).kvs[0].value).toBe('\0\x01\xfe\xff');
    const a = recorder();
    const b = recorder();
    s.watch({ key: '\0', rangeEnd: '\0', startRevision: 6, prevKv: true }, a.sink);
    r.watch({ key: '\0', rangeEnd: '\0', startRevision: 6, prevKv: true }, b.sink);
    expect(b.calls).toEqual(a.calls);
    expect(b.calls[0].map((e) => e.kv.key)).toEqual(['t/b', 't/a', 'n/2']); // sub-revision order survives
    for (const cmd of [{ type: 'leaseRevoke', id: 4 } as const, put('x', 'y'), { type: 'compact', revision: 8 } as const]) {
      expect(r.apply(cmd)).toEqual(s.apply(cmd));
      expect(r.hash()).toBe(s.hash());
    }
    expect(b.calls).toEqual(a.calls);
  });

  it('restores an empty store', () => {
    const r = KvStore.restore(new KvStore().snapshot());
    expect(r.revision).toBe(1);
    expect(r.hash()).toBe(new KvStore().hash());
  });

  it('hash differs whenever the logical state differs', () => {
    const s = new KvStore();
    const seen = new Set([s.hash()]);
    s.apply(put('a', '1'));
    seen.add(s.hash());
    s.apply(put('a', '1'));
    seen.add(s.hash());
    s.apply({ type: 'leaseGrant', id: 1, ttlSeconds: 5 });
    seen.add(s.hash());
    s.apply({ type: 'compact', revision: 3 });
    seen.add(s.hash());
    expect(seen.size).toBe(5);
  });

  it('refuses malformed snapshots, saying what is wrong', () => {
    const ok = JSON.parse(new TextDecoder().decode(busyStore().snapshot()));
    expect(expectKvError(() => KvStore.restore(new TextEncoder().encode('{nope')), 'invalid')).toMatch(/^snapshot: not valid JSON/);
    expect(expectKvError(() => KvStore.restore(enc({ ...ok, version: 9 })), 'invalid')).toBe('snapshot.version: unsupported format version 9 (this build reads 1)');
    expect(expectKvError(() => KvStore.restore(enc({ ...ok, format: 'x' })), 'invalid')).toBe(`snapshot.format: must be "${SNAPSHOT_FORMAT}" (got "x")`);
    expect(expectKvError(() => KvStore.restore(enc({ ...ok, leases: [] })), 'invalid')).toMatch(/is attached to lease 4, which the snapshot does not hold/);
    expect(expectKvError(() => KvStore.restore(enc({ ...ok, keys: [...ok.keys].reverse() })), 'invalid')).toMatch(/keys must be strictly increasing/);
    expect(expectKvError(() => KvStore.restore(enc({ ...ok, revision: 3 })), 'invalid')).toMatch(/compactRevision: 5 is above snapshot.revision 3/);
    expect(expectKvError(() => KvStore.restore(new Uint8Array([0xff, 0xfe])), 'invalid')).toMatch(/^snapshot: not valid UTF-8/);
  });

  it('snapshots and restores 10,000 keys x 3 revisions quickly', () => {
    const s = new KvStore();
    const value = 'v'.repeat(100);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 10_000; i++) s.apply(put(`/registry/pods/default/pod-${i.toString().padStart(5, '0')}`, `${round}${value}`));
    }
    let t = performance.now();
    const snap = s.snapshot();
    const snapshotMs = performance.now() - t;
    t = performance.now();
    const r = KvStore.restore(snap);
    const restoreMs = performance.now() - t;
    t = performance.now();
    const hash = r.hash();
    const hashMs = performance.now() - t;
    console.log(
      `kv snapshot: 30,000 versions of 10,000 keys = ${(snap.length / 1e6).toFixed(1)} MB; snapshot ${snapshotMs.toFixed(0)} ms, restore ${restoreMs.toFixed(0)} ms, hash ${hashMs.toFixed(0)} ms`,
    );
    expect(hash).toBe(s.hash());
    expect(r.range({ key: '/registry/pods/', rangeEnd: prefixEnd('/registry/pods/'), countOnly: true }).count).toBe(10_000);
    expect(restoreMs).toBeLessThan(1_000); // target < 200 ms; loose bound against noisy machines
  });
});
