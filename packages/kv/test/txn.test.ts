import { describe, expect, it } from 'vitest';
import { KvStore, prefixEnd, type Compare, type KvResult, type TxnResponse } from '../src/index.js';
import { expectRefused, keys, put } from './helpers.js';

function txnResult(r: KvResult): TxnResponse & { revision: number } {
  if (r.type !== 'txn') throw new Error(`expected a txn result, got ${r.type}`);
  return r;
}

/** Store: a=v1 (create 2, mod 4, version 2, lease 5), b=v2 (create 3, mod 3, version 1). Revision 4. */
function fixture(): KvStore {
  const s = new KvStore();
  s.apply({ type: 'leaseGrant', id: 5, ttlSeconds: 30 });
  s.apply(put('a', 'v0')); // 2
  s.apply(put('b', 'v2')); // 3
  s.apply(put('a', 'v1', { lease: 5 })); // 4
  return s;
}

function holds(s: KvStore, ...compare: Compare[]): boolean {
  return txnResult(s.apply({ type: 'txn', compare, success: [], failure: [] })).succeeded;
}

describe('txn compares', () => {
  const table: [Compare, boolean][] = [
    [{ key: 'a', target: 'value', result: '=', value: 'v1' }, true],
    [{ key: 'a', target: 'value', result: '!=', value: 'v1' }, false],
    [{ key: 'a', target: 'value', result: '<', value: 'v2' }, true],
    [{ key: 'a', target: 'value', result: '>', value: 'v0' }, true],
    [{ key: 'a', target: 'value', result: '>', value: 'v1' }, false],
    [{ key: 'a', target: 'modRevision', result: '=', revision: 4 }, true],
    [{ key: 'a', target: 'modRevision', result: '<', revision: 4 }, false],
    [{ key: 'a', target: 'modRevision', result: '>', revision: 3 }, true],
    [{ key: 'a', target: 'modRevision', result: '!=', revision: 3 }, true],
    [{ key: 'a', target: 'createRevision', result: '=', revision: 2 }, true],
    [{ key: 'a', target: 'createRevision', result: '<', revision: 3 }, true],
    [{ key: 'a', target: 'createRevision', result: '>', revision: 2 }, false],
    [{ key: 'a', target: 'version', result: '=', version: 2 }, true],
    [{ key: 'a', target: 'version', result: '>', version: 1 }, true],
    [{ key: 'a', target: 'version', result: '<', version: 2 }, false],
    [{ key: 'a', target: 'version', result: '!=', version: 2 }, false],
    [{ key: 'a', target: 'lease', result: '=', lease: 5 }, true],
    [{ key: 'b', target: 'lease', result: '=', lease: 0 }, true],
    [{ key: 'b', target: 'lease', result: '>', lease: 0 }, false],
    [{ key: 'a', target: 'lease', result: '!=', lease: 0 }, true],
    // missing key: a value compare is always false; numeric targets compare as 0
    [{ key: 'zz', target: 'value', result: '=', value: '' }, false],
    [{ key: 'zz', target: 'value', result: '!=', value: 'x' }, false],
    [{ key: 'zz', target: 'createRevision', result: '=', revision: 0 }, true],
    [{ key: 'zz', target: 'modRevision', result: '<', revision: 1 }, true],
    [{ key: 'zz', target: 'version', result: '=', version: 0 }, true],
    [{ key: 'zz', target: 'version', result: '>', version: 0 }, false],
    [{ key: 'zz', target: 'lease', result: '=', lease: 0 }, true],
    // ranges: true only if every key present satisfies it
    [{ key: 'a', rangeEnd: 'c', target: 'version', result: '>', version: 0 }, true],
    [{ key: 'a', rangeEnd: 'c', target: 'version', result: '=', version: 2 }, false],
    [{ key: 'a', rangeEnd: 'c', target: 'value', result: '>', value: 'v' }, true],
    [{ key: 'a', rangeEnd: '\0', target: 'modRevision', result: '<', revision: 5 }, true],
    [{ key: 'c', rangeEnd: 'd', target: 'value', result: '=', value: 'x' }, false],
    [{ key: 'c', rangeEnd: 'd', target: 'version', result: '=', version: 0 }, true],
  ];
  it.each(table)('%j -> %s', (compare, expected) => {
    expect(holds(fixture(), compare)).toBe(expected);
  });

  it('all compares must hold (AND)', () => {
    const s = fixture();
    expect(holds(s, table[0][0], table[5][0])).toBe(true);
    expect(holds(s, table[0][0], table[1][0])).toBe(false);
    expect(holds(s)).toBe(true); // no compare: success
  });

  it('a compare on a deleted key treats it as missing', () => {
    const s = fixture();
    s.apply({ type: 'deleteRange', key: 'b' });
    expect(holds(s, { key: 'b', target: 'version', result: '=', version: 0 })).toBe(true);
    expect(holds(s, { key: 'b', target: 'value', result: '=', value: 'v2' })).toBe(false);
  });
});

describe('txn branches', () => {
  it('runs success or failure, as one revision with sub-ops sharing it', () => {
    const s = fixture();
    const ok = txnResult(
      s.apply({
        type: 'txn',
        compare: [{ key: 'a', target: 'modRevision', result: '=', revision: 4 }],
        success: [{ put: { key: 'x', value: '1' } }, { put: { key: 'y', value: '2', prevKv: true } }, { deleteRange: { key: 'b', prevKv: true } }],
        failure: [{ put: { key: 'never', value: '!' } }],
      }),
    );
    expect(ok.revision).toBe(5);
    expect(ok.succeeded).toBe(true);
    expect(ok.responses).toEqual([
      { put: {} },
      { put: {} },
      { deleteRange: { deleted: 1, prevKvs: [{ key: 'b', value: 'v2', createRevision: 3, modRevision: 3, version: 1, lease: 0 }] } },
    ]);
    expect(s.range({ key: 'x' }).kvs[0].modRevision).toBe(5);
    expect(s.range({ key: 'y' }).kvs[0].modRevision).toBe(5);
    expect(keys(s, '\0', '\0')).toEqual(['a', 'x', 'y']);

    const bad = txnResult(
      s.apply({
        type: 'txn',
        compare: [{ key: 'x', target: 'modRevision', result: '=', revision: 4 }],
        success: [{ put: { key: 'never', value: '!' } }],
        failure: [{ range: { key: 'a' } }, { put: { key: 'x', value: '2' } }],
      }),
    );
    expect(bad.succeeded).toBe(false);
    expect(bad.revision).toBe(6);
    expect(bad.responses[0]).toEqual({ range: { kvs: [{ key: 'a', value: 'v1', createRevision: 2, modRevision: 4, version: 2, lease: 5 }], more: false, count: 1, revision: 6 } });
    expect(keys(s, 'never')).toEqual([]);
  });

  it('a read-only txn, or one whose deletes hit nothing, does not bump the revision', () => {
    const s = fixture();
    const hash = s.hash();
    const r = txnResult(s.apply({ type: 'txn', compare: [], success: [{ range: { key: 'a' } }, { deleteRange: { key: 'zz' } }], failure: [] }));
    expect(r.revision).toBe(4);
    expect(s.hash()).toBe(hash);
  });

  it('ranges inside a txn see the writes made before them in the same txn', () => {
    const s = fixture();
    const r = txnResult(
      s.apply({
        type: 'txn',
        compare: [],
        success: [
          { range: { key: 'a', rangeEnd: prefixEnd('a') } },
          { put: { key: 'a/new', value: 'n' } },
          { deleteRange: { key: 'b' } },
          { range: { key: '\0', rangeEnd: '\0', keysOnly: true } },
          { range: { key: '\0', rangeEnd: '\0', revision: 3 } },
        ],
        failure: [],
      }),
    );
    const ranges = r.responses.map((op) => ('range' in op ? op.range : undefined));
    expect(ranges[0]?.kvs.map((kv) => kv.key)).toEqual(['a']);
    expect(ranges[3]?.kvs.map((kv) => [kv.key, kv.modRevision])).toEqual([
      ['a', 4],
      ['a/new', 5],
    ]);
    expect(ranges[4]?.kvs.map((kv) => kv.key)).toEqual(['a', 'b']);
    expect(ranges.filter((x) => x).every((x) => x!.revision === 5)).toBe(true);
  });

  it('nested txns: compares are all evaluated against the state before the txn (etcd)', () => {
    const s = fixture();
    const r = txnResult(
      s.apply({
        type: 'txn',
        compare: [{ key: 'a', target: 'value', result: '=', value: 'v1' }],
        success: [
          { put: { key: 'c', value: 'made' } },
          {
            txn: {
              // 'c' is created by the op above, but the guard sees the pre-txn state: c is missing.
              compare: [{ key: 'c', target: 'version', result: '=', version: 0 }],
              success: [{ put: { key: 'd', value: 'inner-then' } }, { range: { key: 'c' } }],
              failure: [{ put: { key: 'd', value: 'inner-else' } }],
            },
          },
          {
            txn: {
              compare: [{ key: 'b', target: 'value', result: '=', value: 'nope' }],
              success: [],
              failure: [{ deleteRange: { key: 'b' } }, { txn: { compare: [], success: [{ put: { key: 'e', value: 'deep' } }], failure: [] } }],
            },
          },
        ],
        failure: [],
      }),
    );
    expect(r.revision).toBe(5);
    expect(r.responses).toEqual([
      { put: {} },
      {
        txn: {
          succeeded: true,
          responses: [{ put: {} }, { range: { kvs: [{ key: 'c', value: 'made', createRevision: 5, modRevision: 5, version: 1, lease: 0 }], more: false, count: 1, revision: 5 } }],
        },
      },
      { txn: { succeeded: false, responses: [{ deleteRange: { deleted: 1 } }, { txn: { succeeded: true, responses: [{ put: {} }] } }] } },
    ]);
    expect(s.range({ key: '\0', rangeEnd: '\0' }).kvs.map((kv) => [kv.key, kv.value])).toEqual([
      ['a', 'v1'],
      ['c', 'made'],
      ['d', 'inner-then'],
      ['e', 'deep'],
    ]);
  });

  it('refuses a txn that writes one key twice (etcd duplicate key rule), naming both ops', () => {
    const s = fixture();
    const msg = expectRefused(
      s,
      { type: 'txn', compare: [], success: [{ put: { key: 'k', value: '1' } }, { put: { key: 'k', value: '2' } }], failure: [] },
      'invalid',
    );
    expect(msg).toBe('txn.success[1].put: duplicate key given in txn request: "k" is also written by txn.success[0].put');
    expect(
      expectRefused(
        s,
        { type: 'txn', compare: [], success: [], failure: [{ put: { key: 'k/1', value: '1' } }, { deleteRange: { key: 'k/', rangeEnd: 'k0' } }] },
        'invalid',
      ),
    ).toBe('txn.failure[1].deleteRange: duplicate key given in txn request: deletes "k/1", also written by txn.failure[0].put');
    expectRefused(
      s,
      {
        type: 'txn',
        compare: [],
        success: [{ deleteRange: { key: 'a', rangeEnd: '\0' } }, { txn: { compare: [], success: [], failure: [{ put: { key: 'q', value: '' } }] } }],
        failure: [],
      },
      'invalid',
    );
    // Allowed: the same key in both branches, in then/else of one nested txn, and overlapping deletes.
    s.apply({
      type: 'txn',
      compare: [],
      success: [
        { put: { key: 'k', value: 's' } },
        { txn: { compare: [], success: [{ put: { key: 'm', value: '1' } }], failure: [{ put: { key: 'm', value: '2' } }] } },
        { deleteRange: { key: 'a', rangeEnd: 'c' } },
        { deleteRange: { key: 'b', rangeEnd: 'd' } },
      ],
      failure: [{ put: { key: 'k', value: 'f' } }],
    });
    expect(s.range({ key: '\0', rangeEnd: '\0' }).kvs.map((kv) => kv.key)).toEqual(['k', 'm']);
  });

  it('a txn whose chosen branch fails a state check changes nothing, even after earlier valid ops', () => {
    const s = fixture();
    expect(
      expectRefused(
        s,
        { type: 'txn', compare: [], success: [{ put: { key: 'ok', value: '1' } }, { txn: { compare: [], success: [{ put: { key: 'z', value: '', lease: 99 } }], failure: [] } }], failure: [] },
        'lease_not_found',
      ),
    ).toBe('txn.success[1].txn.success[0].put.lease: lease 99 not found');
    s.apply({ type: 'compact', revision: 3 });
    expect(
      expectRefused(s, { type: 'txn', compare: [], success: [{ put: { key: 'ok', value: '1' } }, { range: { key: 'a', revision: 2 } }], failure: [] }, 'compacted'),
    ).toBe('txn.success[1].range.revision: revision 2 has been compacted (compacted revision 3)');
    expectRefused(s, { type: 'txn', compare: [], success: [{ range: { key: 'a', revision: 5 } }], failure: [] }, 'future_revision');
    // The same bad ops in the branch not taken are not checked (as etcd).
    expect(txnResult(s.apply({ type: 'txn', compare: [], success: [], failure: [{ put: { key: 'z', value: '', lease: 99 } }] })).succeeded).toBe(true);
  });

  it('refuses malformed txns with the path of the bad field', () => {
    const s = fixture();
    expect(expectRefused(s, { type: 'txn', compare: [], success: [{ put: { key: 'a', value: '' }, range: { key: 'a' } } as never], failure: [] }, 'invalid')).toBe(
      'txn.success[0]: must hold exactly one of range, put, deleteRange, txn (got put, range)',
    );
    expect(
      expectRefused(s, { type: 'txn', compare: [{ key: 'a', target: 'color', result: '=' } as never], success: [], failure: [] }, 'invalid'),
    ).toMatch(/^txn.compare\[0\].target: must be one of .* \(got "color"\)$/);
    expect(expectRefused(s, { type: 'txn', compare: [], success: [], failure: [{ txn: { compare: [], success: [{ range: { key: '' } }], failure: [] } }] }, 'invalid')).toBe(
      'txn.failure[0].txn.success[0].range.key: must not be empty',
    );
  });
});
