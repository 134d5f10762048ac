// Watch fan-out: one decode and one JSON string per stored version however many
// watchers see it; the shared objects are frozen. And the leader's writes skip the
// read barrier unless a local read says "no".
import { ApiError, type Pod, type Resource } from '@bramble/api';
import { KvStore } from '@bramble/kv';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KvStoreBackend } from '../src/resources/backend.js';
import { decodeCount } from '../src/resources/codec.js';
import { watchObjectJson } from '../src/resources/service.js';
import { ResourceStore, type StoreWatch } from '../src/resources/store.js';
import type { ResourceEvent } from '../src/resources/watch.js';

function pod(name: string, nodeName?: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'web' } },
    spec: { containers: [{ name: 'main', image: 'busybox', command: ['sleep', '1000'] }], ...(nodeName ? { nodeName } : {}) },
  };
}

/** A KvStoreBackend that counts read barriers and can play a follower. */
class CountingBackend extends KvStoreBackend {
  barriers = 0;
  leader = true;
  override get isLeader(): boolean {
    return this.leader;
  }
  override async linearizableRead(): Promise<void> {
    this.barriers++;
  }
}

function expectDeepFrozen(value: unknown, path = 'object'): void {
  if (typeof value !== 'object' || value === null) return;
  expect(Object.isFrozen(value), `${path} is frozen`).toBe(true);
  for (const [k, v] of Object.entries(value)) expectDeepFrozen(v, `${path}.${k}`);
}

const watches: StoreWatch[] = [];
afterEach(() => {
  for (const w of watches.splice(0)) w.cancel();
  vi.restoreAllMocks();
});

describe('watch fan-out', () => {
  it('decodes each version once for many watchers, shares frozen objects, and keeps DELETED resourceVersions apart', async () => {
    const store = new ResourceStore(new KvStoreBackend(new KvStore()));
    await store.create(pod('warmup')); // creates the default namespace
    const N = 8;
    const seen: ResourceEvent[][] = [];
    for (let i = 0; i < N; i++) {
      const events: ResourceEvent[] = [];
      seen.push(events);
      // Half watch everything, half one node (the agents' field selector).
      const options = i % 2 === 0 ? {} : { fieldSelector: 'spec.nodeName=n1' };
      watches.push(await store.watch('Pod', options, (e) => events.push(e), (err) => { throw err; }));
    }

    const before = decodeCount();
    const created = await store.create(pod('a', 'n1'));
    // The new version, once for all watchers (no previous one; the namespace check is remembered).
    expect(decodeCount() - before).toBe(1);

    const beforePatch = decodeCount();
    await store.patch('Pod', 'default', 'a', { metadata: { labels: { extra: '1' } } });
    // The read for the patch (1), then the new version (1) for all watchers; the previous version is the
    // very KeyValue the watchers decoded for ADDED (the key-value store shares it), so it is not parsed again.
    expect(decodeCount() - beforePatch).toBe(2);

    await store.deleteObject('Pod', 'default', 'a', { gracePeriodSeconds: 0 });
    const deleteRevision = String((store as unknown as { backend: KvStoreBackend }).backend.revision);

    for (const events of seen) expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    for (let k = 0; k < 3; k++) {
      const first = seen[0][k].object;
      for (const events of seen) expect(events[k].object).toBe(first); // one object for every watcher
      expectDeepFrozen(first);
      expect(() => {
        (first.metadata as { name?: string }).name = 'changed';
      }).toThrow(TypeError);
    }
    const [added, modified, deleted] = seen[0].map((e) => e.object);
    expect(added.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    expect(deleted.metadata.resourceVersion).toBe(deleteRevision);
    // The DELETED object is built from the MODIFIED version's content without changing it.
    expect(modified.metadata.resourceVersion).not.toBe(deleteRevision);
    expect(deleted.metadata.labels).toEqual(modified.metadata.labels);
  });

  it('stringifies a shared event object once for every stream', async () => {
    const store = new ResourceStore(new KvStoreBackend(new KvStore()));
    const objects: Resource[] = [];
    watches.push(await store.watch('Pod', {}, (e) => objects.push(e.object), (err) => { throw err; }));
    await store.create(pod('a'));
    const stringify = vi.spyOn(JSON, 'stringify');
    const texts = Array.from({ length: 5 }, () => watchObjectJson(objects[0]));
    expect(stringify).toHaveBeenCalledTimes(1);
    expect(new Set(texts).size).toBe(1);
    expect(JSON.parse(texts[0])).toEqual(objects[0]);
    // Objects that are not frozen belong to one stream: never cached.
    const own = { ...objects[0] };
    watchObjectJson(own);
    watchObjectJson(own);
    expect(stringify).toHaveBeenCalledTimes(3);
  });
});

describe('read barriers before writes', () => {
  it('the leader writes without one; a follower waits for it', async () => {
    const backend = new CountingBackend(new KvStore());
    const store = new ResourceStore(backend);
    await store.ensureDefaultNamespace();
    backend.barriers = 0;
    const a = await store.create(pod('a'));
    await store.updateStatus({ ...a, status: { phase: 'Running' } });
    await store.bindPod('default', 'a', 'n1', (await store.get('Pod', 'default', 'a'))!.metadata.resourceVersion as string);
    expect(backend.barriers).toBe(1); // only the get

    backend.leader = false;
    backend.barriers = 0;
    const b = await store.create(pod('b'));
    await store.updateStatus({ ...b, status: { phase: 'Running' } });
    expect(backend.barriers).toBe(2);
  });

  it('the leader waits for the barrier before a "no": a missing namespace, a stale resourceVersion, nothing to change', async () => {
    const backend = new CountingBackend(new KvStore());
    const store = new ResourceStore(backend);
    const a = await store.create(pod('a'));
    backend.barriers = 0;
    const err = await store.create({ ...pod('x'), metadata: { name: 'x', namespace: 'nowhere' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('NotFound');
    expect(backend.barriers).toBe(1);

    backend.barriers = 0;
    const stale = await store.bindPod('default', 'a', 'n1', '1').catch((e: unknown) => e);
    expect((stale as ApiError).code).toBe('Conflict');
    expect(backend.barriers).toBe(1);

    backend.barriers = 0;
    const same = await store.updateStatus({ ...a, status: a.status });
    expect(same.metadata.resourceVersion).toBe(a.metadata.resourceVersion);
    expect(backend.barriers).toBe(1);
  });
});
