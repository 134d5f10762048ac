import { describe, expect, it } from 'vitest';
import { INITIAL_REVISION, KvStore, prefixEnd } from '../src/index.js';
import { expectKvError, expectRefused, keys, put } from './helpers.js';

describe('revisions, versions, create and mod revisions (etcd numbering)', () => {
  it('an empty store is at revision 1 and the first write gets revision 2', () => {
    const s = new KvStore();
    expect(INITIAL_REVISION).toBe(1);
    expect(s.revision).toBe(1);
    expect(s.compactRevision).toBe(0);
    expect(s.apply(put('a', '1')).revision).toBe(2);
    expect(s.revision).toBe(2);
  });

  it('version counts puts since creation; createRevision stays; modRevision moves', () => {
    const s = new KvStore();
    s.apply(put('a', '1')); // 2
    s.apply(put('b', 'x')); // 3
    s.apply(put('a', '2')); // 4
    expect(s.range({ key: 'a' }).kvs).toEqual([{ key: 'a', value: '2', createRevision: 2, modRevision: 4, version: 2, lease: 0 }]);
    s.apply({ type: 'deleteRange', key: 'a' }); // 5
    expect(s.range({ key: 'a' }).kvs).toEqual([]);
    s.apply(put('a', '3')); // 6
    expect(s.range({ key: 'a' }).kvs).toEqual([{ key: 'a', value: '3', createRevision: 6, modRevision: 6, version: 1, lease: 0 }]);
  });

  it('a put returns prevKv only when asked and only if the key existed', () => {
    const s = new KvStore();
    expect(s.apply(put('a', '1', { prevKv: true }))).toEqual({ type: 'put', revision: 2 });
    expect(s.apply(put('a', '2'))).toEqual({ type: 'put', revision: 3 });
    expect(s.apply(put('a', '3', { prevKv: true }))).toEqual({
      type: 'put',
      revision: 4,
      prevKv: { key: 'a', value: '2', createRevision: 2, modRevision: 3, version: 2, lease: 0 },
    });
  });

  it('a delete of nothing does not bump the revision', () => {
    const s = new KvStore();
    s.apply(put('a', '1'));
    const hash = s.hash();
    expect(s.apply({ type: 'deleteRange', key: 'zzz' })).toEqual({ type: 'deleteRange', revision: 2, deleted: 0 });
    expect(s.apply({ type: 'deleteRange', key: 'b', rangeEnd: 'c', prevKv: true })).toEqual({ type: 'deleteRange', revision: 2, deleted: 0, prevKvs: [] });
    expect(s.hash()).toBe(hash);
  });

  it('deleteRange removes a whole range in one revision and returns prevKvs in key order', () => {
    const s = new KvStore();
    for (const k of ['a/1', 'a/2', 'a/3', 'b']) s.apply(put(k, `v-${k}`));
    const r = s.apply({ type: 'deleteRange', key: 'a/', rangeEnd: prefixEnd('a/'), prevKv: true });
    expect(r).toMatchObject({ type: 'deleteRange', revision: 6, deleted: 3 });
    expect(r.type === 'deleteRange' && r.prevKvs?.map((kv) => [kv.key, kv.value, kv.modRevision])).toEqual([
      ['a/1', 'v-a/1', 2],
      ['a/2', 'v-a/2', 3],
      ['a/3', 'v-a/3', 4],
    ]);
    expect(keys(s, '\0', '\0')).toEqual(['b']);
  });

  it('ignoreValue keeps the value and ignoreLease keeps the lease; both need an existing key', () => {
    const s = new KvStore();
    s.apply({ type: 'leaseGrant', id: 7, ttlSeconds: 10 });
    s.apply(put('a', 'v', { lease: 7 }));
    s.apply(put('a', '', { ignoreValue: true, lease: 0 }));
    expect(s.range({ key: 'a' }).kvs[0]).toMatchObject({ value: 'v', lease: 0, version: 2 });
    s.apply(put('a', 'w', { lease: 7 }));
    s.apply(put('a', 'x', { ignoreLease: true }));
    expect(s.range({ key: 'a' }).kvs[0]).toMatchObject({ value: 'x', lease: 7, version: 4 });
    expect(expectRefused(s, put('nope', '', { ignoreValue: true }), 'key_not_found')).toBe(
      'put.key: key "nope" not found (ignoreValue needs an existing key)',
    );
    expectRefused(s, put('a', 'not-empty', { ignoreValue: true }), 'invalid');
    expectRefused(s, put('a', 'v', { ignoreLease: true, lease: 7 }), 'invalid');
  });

  it('refuses malformed commands with the field and value in the message, changing nothing', () => {
    const s = new KvStore();
    s.apply(put('a', '1'));
    expect(expectRefused(s, put('', 'v'), 'invalid')).toBe('put.key: must not be empty');
    expect(expectRefused(s, { type: 'put', key: 'a', value: 5 } as never, 'invalid')).toBe('put.value: must be a string (got 5)');
    expect(expectRefused(s, put('a', 'v', { lease: -1 }), 'invalid')).toBe('put.lease: must be an integer >= 1 (got -1)');
    expect(expectRefused(s, put('k\u0100', 'v'), 'invalid')).toMatch(/put.key: must be a byte string .*0x100 at offset 1/);
    expect(expectRefused(s, { type: 'bogus' } as never, 'invalid')).toMatch(/command.type: must be one of .*got "bogus"/);
    expect(expectRefused(s, { type: 'compact', revision: 1.5 }, 'invalid')).toBe('compact.revision: must be an integer >= 1 (got 1.5)');
  });
});

describe('range', () => {
  function fill(): KvStore {
    const s = new KvStore();
    for (const k of ['a', 'a/1', 'a/2', 'a/3', 'ab', 'b', 'c\xff', 'c\xff\xff', '\xff\xff']) s.apply(put(k, `v-${k}`));
    return s;
  }

  it('prefixEnd follows etcd', () => {
    expect(prefixEnd('a/')).toBe('a0');
    expect(prefixEnd('a')).toBe('b');
    expect(prefixEnd('c\xff')).toBe('d');
    expect(prefixEnd('c\xff\xff')).toBe('d');
    expect(prefixEnd('\xff\xff')).toBe('\0');
    expect(prefixEnd('')).toBe('\0');
  });

  it('reads a single key, a prefix, a from-key range and everything', () => {
    const s = fill();
    expect(keys(s, 'a')).toEqual(['a']);
    expect(keys(s, 'a/', prefixEnd('a/'))).toEqual(['a/1', 'a/2', 'a/3']);
    expect(keys(s, 'a', prefixEnd('a'))).toEqual(['a', 'a/1', 'a/2', 'a/3', 'ab']);
    expect(keys(s, 'c\xff', prefixEnd('c\xff'))).toEqual(['c\xff', 'c\xff\xff']);
    expect(keys(s, 'b', '\0')).toEqual(['b', 'c\xff', 'c\xff\xff', '\xff\xff']);
    expect(keys(s, '\xff', prefixEnd('\xff'))).toEqual(['\xff\xff']);
    expect(keys(s, '\0', '\0')).toHaveLength(9);
    expect(keys(s, 'b', 'a')).toEqual([]); // end before start: empty
    expect(keys(s, 'zz')).toEqual([]);
  });

  it('limit cuts kvs, sets more, and count still counts the whole range', () => {
    const s = fill();
    expect(s.range({ key: 'a', rangeEnd: prefixEnd('a'), limit: 2 })).toMatchObject({ more: true, count: 5, revision: 10 });
    expect(s.range({ key: 'a', rangeEnd: prefixEnd('a'), limit: 2 }).kvs.map((k) => k.key)).toEqual(['a', 'a/1']);
    expect(s.range({ key: 'a', rangeEnd: prefixEnd('a'), limit: 5 })).toMatchObject({ more: false, count: 5 });
    expect(s.range({ key: 'a', rangeEnd: prefixEnd('a'), limit: 0 }).kvs).toHaveLength(5);
    expect(s.range({ key: 'a', rangeEnd: prefixEnd('a'), countOnly: true })).toEqual({ kvs: [], more: false, count: 5, revision: 10 });
    expect(s.range({ key: 'a', keysOnly: true }).kvs[0]).toEqual({ key: 'a', value: '', createRevision: 2, modRevision: 2, version: 1, lease: 0 });
  });

  it('serves historical reads at any retained revision', () => {
    const s = new KvStore();
    s.apply(put('k', 'v1')); // 2
    s.apply(put('j', 'x')); // 3
    s.apply(put('k', 'v2')); // 4
    s.apply({ type: 'deleteRange', key: 'k' }); // 5
    s.apply(put('k', 'v3')); // 6
    const at = (rev: number) => s.range({ key: 'k', revision: rev }).kvs.map((kv) => kv.value);
    expect([1, 2, 3, 4, 5, 6].map(at)).toEqual([[], ['v1'], ['v1'], ['v2'], [], ['v3']]);
    expect(s.range({ key: 'k', revision: 3 })).toMatchObject({ revision: 6, count: 1 });
    expect(keys(s, '\0', '\0', 3)).toEqual(['j', 'k']);
    expect(keys(s, '\0', '\0', 5)).toEqual(['j']);
  });

  it('refuses future and compacted revisions, naming both revisions', () => {
    const s = new KvStore();
    for (let i = 0; i < 10; i++) s.apply(put('k', `v${i}`)); // revisions 2..11
    expect(expectKvError(() => s.range({ key: 'k', revision: 12 }), 'future_revision')).toBe(
      'range.revision: revision 12 is a future revision (current revision 11)',
    );
    s.apply({ type: 'compact', revision: 8 });
    expect(expectKvError(() => s.range({ key: 'k', revision: 7 }), 'compacted')).toBe(
      'range.revision: revision 7 has been compacted (compacted revision 8)',
    );
    expect(s.range({ key: 'k', revision: 8 }).kvs[0].value).toBe('v6');
    expect(expectKvError(() => s.range({ key: 'k', limit: -1 }), 'invalid')).toBe('range.limit: must be an integer >= 0 (got -1)');
  });
});

describe('compaction', () => {
  it('keeps the latest version at or before the compact revision, drops tombstones and older versions', () => {
    const s = new KvStore();
    s.apply(put('a', '1')); // 2
    s.apply(put('a', '2')); // 3
    s.apply(put('b', '1')); // 4
    s.apply({ type: 'deleteRange', key: 'b' }); // 5
    s.apply(put('c', '1')); // 6
    s.apply(put('a', '3')); // 7
    expect(s.stats()).toMatchObject({ keys: 2, revisions: 6 });
    expect(s.apply({ type: 'compact', revision: 5 })).toEqual({ type: 'compact', revision: 7 });
    // a@3 (latest <= 5) and a@7 kept; b's put and tombstone gone; c@6 kept.
    expect(s.stats()).toMatchObject({ keys: 2, revisions: 3 });
    expect(s.compactRevision).toBe(5);
    expect(s.revision).toBe(7);
    expect(s.range({ key: 'a', revision: 5 }).kvs[0]).toMatchObject({ value: '2', modRevision: 3, version: 2 });
    expect(keys(s, '\0', '\0', 5)).toEqual(['a']);
    expect(keys(s, '\0', '\0', 6)).toEqual(['a', 'c']);
  });

  it('refuses compacting at or below the compact revision, or above the current one', () => {
    const s = new KvStore();
    for (let i = 0; i < 5; i++) s.apply(put('k', `${i}`)); // revision 6
    s.apply({ type: 'compact', revision: 4 });
    expect(expectRefused(s, { type: 'compact', revision: 4 }, 'compacted')).toBe(
      'compact.revision: revision 4 has already been compacted (compacted revision 4)',
    );
    expect(expectRefused(s, { type: 'compact', revision: 7 }, 'future_revision')).toBe(
      'compact.revision: revision 7 is a future revision (current revision 6)',
    );
    s.apply({ type: 'compact', revision: 6 });
    expect(s.stats()).toMatchObject({ keys: 1, revisions: 1 });
  });

  it('a compacted store keeps working: writes after compaction continue versions', () => {
    const s = new KvStore();
    s.apply(put('k', 'a'));
    s.apply(put('k', 'b'));
    s.apply({ type: 'compact', revision: 3 });
    s.apply(put('k', 'c'));
    expect(s.range({ key: 'k' }).kvs[0]).toMatchObject({ createRevision: 2, modRevision: 4, version: 3 });
  });
});
