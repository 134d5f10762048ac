// ResourceStore.recordEvents over a bare KvStore: one txn (one revision) per batch,
// aggregation inside and across batches, the one-by-one fallback when a concurrent
// write fails a compare, and bad input that changes nothing. Also the RecordEvents
// handler's limits.
import { type Event, type Namespace } from '@bramble/api';
import type { EventRecord } from '@bramble/controllers';
import { KvStore, type Compare, type RequestOp } from '@bramble/kv';
import type * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { KvStoreBackend, type TxnOutcome } from '../src/resources/backend.js';
import { MAX_EVENTS_PER_REQUEST, ResourcesService } from '../src/resources/service.js';
import { EVENT_AGGREGATION_WINDOW_MS, ResourceStore } from '../src/resources/store.js';
import { apiError } from './api-error.js';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);

/** A KvStoreBackend that counts txns and can run something just before one (a concurrent writer). */
class HookedBackend extends KvStoreBackend {
  txns = 0;
  beforeTxn: ((ops: RequestOp[]) => Promise<void>) | undefined;

  override async txn(compare: Compare[], success: RequestOp[], failure: RequestOp[] = []): Promise<TxnOutcome> {
    const hook = this.beforeTxn;
    this.beforeTxn = undefined;
    if (hook) await hook(success);
    this.txns++;
    return super.txn(compare, success, failure);
  }
}

function setup() {
  const kv = new KvStore();
  const backend = new HookedBackend(kv);
  let uids = 0;
  const store = new ResourceStore(backend, { now: () => T0, uid: () => `uid-${++uids}` });
  // Another master's store over the same state: its writes are the "concurrent" ones.
  const other = new ResourceStore(new KvStoreBackend(kv), { now: () => T0, uid: () => `other-${++uids}` });
  return { kv, backend, store, other };
}

function record(name: string, reason: string, init: { namespace?: string; timeMs?: number; message?: string } = {}): EventRecord {
  return {
    involvedObject: { kind: 'Pod', apiVersion: 'v1', namespace: init.namespace ?? 'default', name, uid: `uid-${name}` },
    type: 'Normal',
    reason,
    message: init.message ?? `${reason} ${name}`,
    component: 'kubelet',
    timeMs: init.timeMs ?? T0,
  };
}

async function events(store: ResourceStore): Promise<Array<[string, string, number]>> {
  return (await store.list('Event')).map((e: Event) => [e.involvedObject.name ?? '', e.reason ?? '', e.count ?? 0] as [string, string, number]).sort();
}


describe('ResourceStore.recordEvents', () => {
  it('writes a whole batch as one txn: one revision, duplicates in the batch merged', async () => {
    const { kv, backend, store } = setup();
    await store.ensureDefaultNamespace();
    const before = { revision: kv.revision, txns: backend.txns };
    await store.recordEvents([
      record('a', 'Created'),
      record('a', 'Started', { timeMs: T0 + 1000 }),
      record('b', 'Created'),
      record('a', 'Created', { timeMs: T0 + 2000 }), // the same as the first: count 2
      record('c', 'Scheduled'),
    ]);
    expect(backend.txns - before.txns).toBe(1);
    expect(kv.revision - before.revision).toBe(1);
    expect(await events(store)).toEqual([
      ['a', 'Created', 2],
      ['a', 'Started', 1],
      ['b', 'Created', 1],
      ['c', 'Scheduled', 1],
    ]);
    const created = (await store.list('Event')).find((e) => e.involvedObject.name === 'a' && e.reason === 'Created')!;
    expect(created).toMatchObject({
      firstTimestamp: new Date(T0).toISOString(),
      lastTimestamp: new Date(T0 + 2000).toISOString(),
      source: { component: 'kubelet' },
      metadata: { namespace: 'default' },
    });
    expect(created.metadata.name).toMatch(/^a\.[0-9a-f]{16}$/);
    // The same name as recordEvent gives it: a single record later bumps the same event.
    await store.recordEvent(record('a', 'Created', { timeMs: T0 + 3000 }));
    expect((await events(store))[0]).toEqual(['a', 'Created', 3]);
    // Nothing to do: no write at all.
    const idle = kv.revision;
    await store.recordEvents([]);
    expect(kv.revision).toBe(idle);
  });

  it('aggregates across batches within the window, and starts over after it', async () => {
    const { kv, store } = setup();
    await store.ensureDefaultNamespace();
    await store.recordEvents([record('a', 'BackOff'), record('b', 'BackOff')]);
    const rev = kv.revision;
    await store.recordEvents([record('a', 'BackOff', { timeMs: T0 + 60_000 }), record('b', 'BackOff', { timeMs: T0 + 60_000 }), record('a', 'BackOff', { timeMs: T0 + 120_000 })]);
    expect(kv.revision).toBe(rev + 1);
    expect(await events(store)).toEqual([
      ['a', 'BackOff', 3],
      ['b', 'BackOff', 2],
    ]);
    // Past the window (counted from the last one seen), inside one batch: a fresh event, then bumped.
    const late = T0 + 120_000 + EVENT_AGGREGATION_WINDOW_MS;
    await store.recordEvents([record('a', 'BackOff', { timeMs: late }), record('a', 'BackOff', { timeMs: late + 1 })]);
    const a = (await store.list('Event')).find((e) => e.involvedObject.name === 'a')!;
    expect(a).toMatchObject({ count: 2, firstTimestamp: new Date(late).toISOString(), lastTimestamp: new Date(late + 1).toISOString() });
  });

  it('falls back to one by one when a concurrent write fails a compare, and still records everything', async () => {
    const { kv, backend, store, other } = setup();
    await store.ensureDefaultNamespace();
    await store.recordEvents([record('a', 'Started')]); // exists: the batch bumps it by modRevision
    // Between the batch's read and its txn another master records a (new) and b (new).
    backend.beforeTxn = async () => {
      await other.recordEvent(record('a', 'Started', { timeMs: T0 + 10 }));
      await other.recordEvent(record('b', 'Created', { timeMs: T0 + 10 }));
    };
    const txnsBefore = backend.txns;
    await store.recordEvents([record('a', 'Started', { timeMs: T0 + 20 }), record('b', 'Created', { timeMs: T0 + 20 }), record('c', 'Created'), record('a', 'Started', { timeMs: T0 + 30 })]);
    // The failed batch txn, then one txn per event.
    expect(backend.txns - txnsBefore).toBe(1 + 4);
    expect(await events(store)).toEqual([
      ['a', 'Started', 4], // 1 + the other master's + 2 of the batch
      ['b', 'Created', 2],
      ['c', 'Created', 1],
    ]);
    expect(kv.revision).toBeGreaterThan(0);
  });

  it('a namespace that is missing or terminating: the other events are recorded, then its error is thrown', async () => {
    const { kv, store } = setup();
    await store.ensureDefaultNamespace();
    await store.create<Namespace>({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'going' } });
    await store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'keep', namespace: 'going', finalizers: ['test/hold'] }, data: {} });
    await store.deleteObject('Namespace', undefined, 'going'); // Terminating while the ConfigMap holds on
    const rev = kv.revision;
    const err = await apiError(store.recordEvents([record('a', 'Created'), record('x', 'Created', { namespace: 'missing' }), record('b', 'Created'), record('y', 'Created', { namespace: 'going' })]));
    expect(err).toMatchObject({ code: 'NotFound', message: 'namespaces "missing" not found' });
    expect(kv.revision).toBe(rev + 1);
    expect(await events(store)).toEqual([
      ['a', 'Created', 1],
      ['b', 'Created', 1],
    ]);
    const terminating = await apiError(store.recordEvents([record('y', 'Created', { namespace: 'going' })]));
    expect(terminating.code).toBe('Forbidden');
    expect(kv.revision).toBe(rev + 1);
  });

  it('refuses a batch with a malformed record, naming it, and writes nothing', async () => {
    const { kv, store } = setup();
    await store.ensureDefaultNamespace();
    const rev = kv.revision;
    const noTime = { ...record('b', 'Created'), timeMs: Number.NaN };
    expect(await apiError(store.recordEvents([record('a', 'Created'), noTime]))).toMatchObject({
      code: 'BadRequest',
      message: 'events[1]: timeMs: must be a number of ms since the epoch (got a number (null))',
    });
    const noObject = { ...record('b', 'Created'), involvedObject: undefined } as unknown as EventRecord;
    expect((await apiError(store.recordEvents([noObject]))).message).toBe('events[0]: involvedObject: Required value');
    const badType = { ...record('c', 'Created'), type: 'Loud' } as unknown as EventRecord;
    const invalid = await apiError(store.recordEvents([record('a', 'Created'), badType]));
    expect(invalid.message).toMatch(/^events\[1\]: /);
    expect(invalid.code).toBe('Invalid');
    expect(await apiError(store.recordEvents('nope' as unknown as EventRecord[]))).toMatchObject({ code: 'BadRequest' });
    expect(kv.revision).toBe(rev);
    expect(await store.list('Event')).toHaveLength(0);
  });
});

describe('RecordEvents RPC handler', () => {
  function call(service: ResourcesService, request: Record<string, unknown>): Promise<{ error: unknown }> {
    const handler = service.handlers().RecordEvents as grpc.handleUnaryCall<Record<string, unknown>, Record<string, unknown>>;
    return new Promise((resolve) => handler({ request } as grpc.ServerUnaryCall<Record<string, unknown>, Record<string, unknown>>, (error) => resolve({ error })));
  }

  it('records a batch, and refuses too many records or too many bytes with a clear error', async () => {
    const { store, kv } = setup();
    await store.ensureDefaultNamespace();
    const service = new ResourcesService(store, { maxRequestBytes: 64 * 1024 });
    const ok = await call(service, { records_json: [JSON.stringify(record('a', 'Created')), JSON.stringify(record('a', 'Started'))] });
    expect(ok.error).toBeNull();
    expect(await events(store)).toEqual([
      ['a', 'Created', 1],
      ['a', 'Started', 1],
    ]);
    const rev = kv.revision;
    const many = Array.from({ length: MAX_EVENTS_PER_REQUEST + 1 }, (_, i) => JSON.stringify({ timeMs: i }));
    const tooMany = (await call(service, { records_json: many })).error as grpc.StatusObject;
    expect(tooMany.details).toBe(`records_json: too many events in one request: ${MAX_EVENTS_PER_REQUEST + 1}, the limit is ${MAX_EVENTS_PER_REQUEST}; send them in several requests`);
    const big = Array.from({ length: 200 }, (_, i) => JSON.stringify(record(`p${i}`, 'Created', { message: 'x'.repeat(400) })));
    const tooBig = (await call(service, { records_json: big })).error as grpc.StatusObject;
    expect(tooBig.details).toMatch(/^request too large: \d+ bytes, the limit is 65536/);
    const badJson = (await call(service, { records_json: ['{"timeMs":'] })).error as grpc.StatusObject;
    expect(badJson.details).toMatch(/^records_json\[0\]: invalid JSON/);
    expect(kv.revision).toBe(rev);
  });
});
