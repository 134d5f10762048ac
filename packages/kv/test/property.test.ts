import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  KvError,
  KvStore,
  prefixEnd,
  type Compare,
  type DeleteRangeRequest,
  type KvCommand,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  type TxnRequest,
  type WatchEvent,
} from '../src/index.js';
import { covers, ModelError, ModelKv } from './model.js';

const KEYS = ['a', 'a/1', 'a/2', 'ab', 'b', 'b/1', 'c\xff', 'c\xff\xff'];
const LEASES = [1, 2];
const keyArb = fc.constantFrom(...KEYS);
const valueArb = fc.constantFrom('', 'x', 'y', 'zz');
const leaseArb = fc.constantFrom(0, 0, 0, 0, 0, 1, 2, 9); // 9 is never granted

const intervalArb: fc.Arbitrary<{ key: string; rangeEnd?: string }> = fc.oneof(
  keyArb.map((key) => ({ key })),
  keyArb.map((key) => ({ key, rangeEnd: prefixEnd(key) })),
  keyArb.map((key) => ({ key, rangeEnd: '\0' })),
  fc.tuple(keyArb, keyArb).map(([key, rangeEnd]) => ({ key, rangeEnd })),
);

const rangeArb: fc.Arbitrary<RangeRequest> = fc
  .tuple(intervalArb, fc.constantFrom(0, 0, 1, 2), fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }) }), fc.boolean(), fc.boolean())
  .map(([iv, limit, revision, keysOnly, countOnly]) => ({ ...iv, limit, revision, keysOnly, countOnly }));

const putArb: fc.Arbitrary<PutRequest> = fc
  .tuple(keyArb, valueArb, leaseArb, fc.boolean(), fc.constantFrom('plain', 'plain', 'plain', 'plain', 'plain', 'plain', 'plain', 'plain', 'ignoreValue', 'ignoreLease'))
  .map(([key, value, lease, prevKv, mode]) =>
    mode === 'ignoreValue'
      ? { key, value: '', lease, prevKv, ignoreValue: true }
      : mode === 'ignoreLease'
        ? { key, value, prevKv, ignoreLease: true }
        : { key, value, lease, prevKv },
  );

const deleteArb: fc.Arbitrary<DeleteRangeRequest> = fc.tuple(intervalArb, fc.boolean()).map(([iv, prevKv]) => ({ ...iv, prevKv }));

const compareArb: fc.Arbitrary<Compare> = fc
  .tuple(intervalArb, fc.constantFrom('value', 'modRevision', 'createRevision', 'version', 'lease'), fc.constantFrom('=', '!=', '<', '>'), valueArb, fc.nat(30), fc.nat(4), fc.constantFrom(0, ...LEASES))
  .map(([iv, target, result, value, revision, version, lease]) => ({ ...iv, target, result, value, revision, version, lease }) as Compare);

function opArb(depth: number): fc.Arbitrary<RequestOp> {
  const base: fc.Arbitrary<RequestOp>[] = [
    rangeArb.map((range) => ({ range })),
    putArb.map((put) => ({ put })),
    deleteArb.map((deleteRange) => ({ deleteRange })),
  ];
  return depth > 0 ? fc.oneof(...base, txnArb(depth - 1).map((txn) => ({ txn }))) : fc.oneof(...base);
}

function txnArb(depth: number): fc.Arbitrary<TxnRequest> {
  return fc.record({
    compare: fc.array(compareArb, { maxLength: 2 }),
    success: fc.array(opArb(depth), { maxLength: 3 }),
    failure: fc.array(opArb(depth), { maxLength: 3 }),
  });
}

/** Drops ops that would write a key twice in one txn, so every generated txn is valid. */
interface Writes {
  puts: Set<string>;
  dels: { key: string; rangeEnd?: string }[];
}
function sanitize(ops: RequestOp[], w: Writes): RequestOp[] {
  const out: RequestOp[] = [];
  for (const op of ops) {
    if ('put' in op) {
      if (w.puts.has(op.put.key) || w.dels.some((d) => covers(d.key, d.rangeEnd, op.put.key))) continue;
      w.puts.add(op.put.key);
    } else if ('deleteRange' in op) {
      const d = op.deleteRange;
      if ([...w.puts].some((k) => covers(d.key, d.rangeEnd, k))) continue;
      w.dels.push(d);
    } else if ('txn' in op) {
      const a: Writes = { puts: new Set(w.puts), dels: [...w.dels] };
      const b: Writes = { puts: new Set(w.puts), dels: [...w.dels] };
      const txn = { compare: op.txn.compare, success: sanitize(op.txn.success, a), failure: sanitize(op.txn.failure, b) };
      for (const k of [...a.puts, ...b.puts]) w.puts.add(k);
      w.dels.push(...a.dels.slice(w.dels.length), ...b.dels.slice(w.dels.length));
      out.push({ txn });
      continue;
    }
    out.push(op);
  }
  return out;
}

type Step = { cmd: KvCommand } | { compactBack: number } | { checkpoint: true };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: putArb.map((p) => ({ cmd: { type: 'put', ...p } as KvCommand })) },
  { weight: 2, arbitrary: deleteArb.map((d) => ({ cmd: { type: 'deleteRange', ...d } as KvCommand })) },
  {
    weight: 4,
    arbitrary: txnArb(2).map((t) => ({
      cmd: { type: 'txn', compare: t.compare, success: sanitize(t.success, { puts: new Set(), dels: [] }), failure: sanitize(t.failure, { puts: new Set(), dels: [] }) } as KvCommand,
    })),
  },
  { weight: 1, arbitrary: fc.nat(8).map((compactBack) => ({ compactBack })) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...LEASES), fc.integer({ min: 1, max: 100 })).map(([id, ttlSeconds]) => ({ cmd: { type: 'leaseGrant', id, ttlSeconds } as KvCommand })) },
  { weight: 1, arbitrary: fc.constantFrom(...LEASES, 9).map((id) => ({ cmd: { type: 'leaseRevoke', id } as KvCommand })) },
  { weight: 1, arbitrary: fc.constantFrom(...LEASES, 9).map((id) => ({ cmd: { type: 'leaseKeepAlive', id } as KvCommand })) },
  { weight: 1, arbitrary: fc.constant({ checkpoint: true as const }) },
);

/** Every key, every prefix, from-key, everything, and limited variants. */
const PROBES: RangeRequest[] = [
  ...KEYS.map((key) => ({ key })),
  ...KEYS.map((key) => ({ key, rangeEnd: prefixEnd(key) })),
  ...KEYS.map((key) => ({ key, rangeEnd: '\0', limit: 2 })),
  { key: '\0', rangeEnd: '\0' },
  { key: 'a', rangeEnd: 'b', countOnly: true },
];

type Outcome = { ok: unknown } | { error: string };
function run(f: () => unknown): Outcome {
  try {
    return { ok: f() };
  } catch (err) {
    if (err instanceof KvError || err instanceof ModelError) return { error: err.code };
    throw err;
  }
}

/** `a` and `b` must be observably identical, and agree with the model on every read. */
function expectSameState(a: KvStore, b: KvStore, model: ModelKv): void {
  expect(b.hash()).toBe(a.hash());
  expect(b.revision).toBe(a.revision);
  expect(b.compactRevision).toBe(a.compactRevision);
  expect(b.leases()).toEqual(a.leases());
  expect({ ...b.stats(), watchers: 0 }).toEqual({ ...a.stats(), watchers: 0 });
  expect(a.revision).toBe(model.revision);
  expect(a.compactRevision).toBe(model.compactRevision);
  const reads = (src: { range(r: RangeRequest): unknown }) => {
    const out: string[] = [];
    for (let rev = Math.max(1, a.compactRevision - 1); rev <= a.revision + 1; rev++) {
      for (const probe of PROBES) out.push(`@${rev} ${JSON.stringify(probe)} -> ${JSON.stringify(run(() => src.range({ ...probe, revision: rev })))}`);
    }
    return out;
  };
  const fromA = reads(a);
  expect(reads(b)).toEqual(fromA);
  expect(reads(model)).toEqual(fromA);
}

describe('property: random command sequences', () => {
  it('store = reference model; snapshot/restore is exact; failed applies change nothing; watch is exactly-once', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 80, size: 'max' }), (steps) => {
        const store = new KvStore();
        const model = new ModelKv();
        const live: WatchEvent[][] = [];
        store.watch({ key: '\0', rangeEnd: '\0', prevKv: true }, (events) => live.push(events));
        const restored: KvStore[] = [];

        for (const step of steps) {
          if ('checkpoint' in step) {
            const copy = KvStore.restore(store.snapshot());
            expect(copy.snapshot()).toEqual(store.snapshot());
            expectSameState(store, copy, model);
            restored.push(copy);
            continue;
          }
          const cmd: KvCommand = 'cmd' in step ? step.cmd : { type: 'compact', revision: Math.max(1, store.revision - step.compactBack) };
          const hashBefore = store.hash();
          const revisionBefore = store.revision;
          const got = run(() => store.apply(cmd));
          expect(run(() => model.apply(cmd))).toEqual(got);
          if ('error' in got) {
            expect(store.hash()).toBe(hashBefore);
            expect(store.revision).toBe(revisionBefore);
          }
          for (const copy of restored) {
            expect(run(() => copy.apply(cmd))).toEqual(got);
            expect(copy.hash()).toBe(store.hash());
          }
        }

        // Live watch: one call per revision, events = the model's, in order.
        expect(live.flat()).toEqual(model.events);
        for (const batch of live) expect(new Set(batch.map((e) => e.kv.modRevision)).size).toBe(1);
        expect(new Set(live.map((b) => b[0].kv.modRevision)).size).toBe(live.length);

        const targets = [store, ...restored, KvStore.restore(store.snapshot())];
        for (const copy of targets) {
          expectSameState(store, copy, model);
          // Replay from every retained revision equals what the live watcher saw from there.
          for (let start = store.compactRevision + 1; start <= store.revision + 1; start++) {
            const replay: WatchEvent[] = [];
            const w = copy.watch({ key: '\0', rangeEnd: '\0', startRevision: start, prevKv: true }, (events) => replay.push(...events));
            w.cancel();
            expect(JSON.stringify(replay)).toBe(JSON.stringify(model.events.filter((e) => e.kv.modRevision >= start)));
          }
        }
      }),
      { numRuns: Number(process.env.KV_PROPERTY_RUNS ?? 100) },
    );
  });
});
