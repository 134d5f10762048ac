// ResourceStore over a bare KvStore: every verb and rule of the Resources API,
// without Raft (the in-process master test covers the replicated path).
import { LAST_APPLIED_ANNOTATION, type ConfigMap, type Deployment, type Event, type Namespace, type Pod, type Resource } from '@bramble/api';
import { KvStore } from '@bramble/kv';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { RaftHost } from '../src/raft-host.js';
import { KvStoreBackend, RaftBackend } from '../src/resources/backend.js';
import { ResourceStore, type StoreWatch } from '../src/resources/store.js';
import type { ResourceEvent } from '../src/resources/watch.js';
import { apiError } from './api-error.js';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);

function setup(opts: { maxObjectBytes?: number; maxEvents?: number } = {}) {
  const kv = new KvStore();
  let nowMs = T0;
  let uids = 0;
  const store = new ResourceStore(new KvStoreBackend(kv), { now: () => nowMs, uid: () => `uid-${++uids}`, ...opts });
  return {
    kv,
    store,
    advance(ms: number) {
      nowMs += ms;
      return nowMs;
    },
  };
}

function pod(name: string, init: { namespace?: string; labels?: Record<string, string>; nodeName?: string; grace?: number } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(init.namespace ? { namespace: init.namespace } : {}), ...(init.labels ? { labels: init.labels } : {}) },
    spec: {
      containers: [{ name: 'main', image: 'busybox', command: ['sleep', '1000'] }],
      ...(init.nodeName ? { nodeName: init.nodeName } : {}),
      ...(init.grace !== undefined ? { terminationGracePeriodSeconds: init.grace } : {}),
    },
  };
}

function deployment(name: string, replicas = 2, labels: Record<string, string> = { app: name }): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image: 'nginx', command: ['serve'] }] } },
    },
  };
}

function namespace(name: string): Namespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}


describe('create and get', () => {
  it('stores the object without its resourceVersion, fills it from the mod revision, and creates the default namespace on first need', async () => {
    const { store, kv } = setup();
    const created = await store.create(pod('web'));
    expect(created.metadata).toMatchObject({ name: 'web', namespace: 'default', uid: expect.stringMatching(/^uid-/), generation: 1 });
    expect(created.metadata.creationTimestamp).toBe(new Date(T0).toISOString());
    const raw = kv.range({ key: '/registry/pods/default/web' }).kvs[0];
    expect(created.metadata.resourceVersion).toBe(String(raw.modRevision));
    expect(JSON.parse(raw.value).metadata.resourceVersion).toBeUndefined();
    expect(await store.get('Pod', 'default', 'web')).toEqual(created);
    expect(await store.get('Namespace', undefined, 'default')).toMatchObject({ status: { phase: 'Active' } });
    expect(await store.get('Pod', 'default', 'nope')).toBeUndefined();
    // Defaults were applied.
    expect(created.spec.restartPolicy).toBe('Always');
  });

  it('rejects a duplicate with kubectl\'s message and writes nothing', async () => {
    const { store, kv } = setup();
    await store.create(deployment('web'));
    const before = kv.revision;
    const err = await apiError(store.create(deployment('web')));
    expect(err.code).toBe('AlreadyExists');
    expect(err.message).toBe('deployments.apps "web" already exists');
    await store.create(pod('x'));
    expect((await apiError(store.create(pod('x')))).message).toBe('pods "x" already exists');
    expect(kv.revision).toBe(before + 1);
  });

  it('needs the namespace to exist and not be terminating', async () => {
    const { store, kv } = setup();
    const before = kv.revision;
    const err = await apiError(store.create(pod('a', { namespace: 'team' })));
    expect(err.code).toBe('NotFound');
    expect(err.message).toBe('namespaces "team" not found');
    expect(kv.revision).toBe(before);
    await store.create(namespace('team'));
    expect((await store.create(pod('a', { namespace: 'team' }))).metadata.namespace).toBe('team');
  });

  it('generates names from generateName', async () => {
    const { store } = setup();
    const p = pod('');
    delete p.metadata.name;
    p.metadata.generateName = 'web-';
    const a = await store.create(p);
    const b = await store.create(p);
    expect(a.metadata.name).toMatch(/^web-[a-z0-9]{5}$/);
    expect(b.metadata.name).not.toBe(a.metadata.name);
  });

  it('rejects unknown fields and invalid values with field paths, changing nothing', async () => {
    const { store, kv } = setup();
    await store.ensureDefaultNamespace();
    const before = kv.revision;
    const bad = deployment('web') as unknown as { spec: Record<string, unknown> };
    bad.spec.replicaz = 3;
    const err = await apiError(store.create(bad as unknown as Deployment));
    expect(err.code).toBe('Invalid');
    expect(err.fieldErrors).toEqual([expect.objectContaining({ type: 'UnknownField', field: 'spec.replicaz' })]);
    const negative = await apiError(store.create(deployment('web', -1)));
    expect(negative.fieldErrors[0]).toMatchObject({ field: 'spec.replicas' });
    expect((await apiError(store.create({ apiVersion: 'v1', kind: 'Gizmo', metadata: { name: 'g' } } as unknown as Resource))).message).toBe(
      'the server doesn\'t have a resource type "Gizmo"',
    );
    expect(kv.revision).toBe(before);
  });

  it('refuses objects over the size limit, naming the size and the limit', async () => {
    const { store } = setup({ maxObjectBytes: 2048 });
    const cm: ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, data: { blob: 'x'.repeat(4000) } };
    const err = await apiError(store.create(cm));
    expect(err.code).toBe('BadRequest');
    expect(err.message).toMatch(/ConfigMap "big" is too large: \d+ bytes, the limit is 2048 bytes/);
  });

  it('dry run validates and defaults but stores nothing', async () => {
    const { store, kv } = setup();
    const before = kv.revision;
    const out = await store.create(deployment('web'), { dryRun: true });
    expect(out.spec.strategy?.type).toBe('RollingUpdate');
    expect(kv.revision).toBe(before);
  });
});

describe('update, updateStatus, patch', () => {
  it('optimistic concurrency: a stale resourceVersion is a Conflict with Kubernetes\' message', async () => {
    const { store } = setup();
    const v1 = await store.create(deployment('web'));
    const v2 = await store.update({ ...v1, spec: { ...v1.spec, replicas: 3 } });
    expect(Number(v2.metadata.resourceVersion)).toBeGreaterThan(Number(v1.metadata.resourceVersion));
    const err = await apiError(store.update({ ...v1, spec: { ...v1.spec, replicas: 5 } }));
    expect(err.code).toBe('Conflict');
    expect(err.message).toBe(
      'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply your changes to the latest version and try again',
    );
    // Without a resourceVersion: last write wins.
    const noRv = { ...v1, spec: { ...v1.spec, replicas: 7 } };
    delete noRv.metadata.resourceVersion;
    expect((await store.update(noRv)).spec.replicas).toBe(7);
  });

  it('rejects changes of immutable fields, keeps server fields and status, bumps generation only on spec changes', async () => {
    const { store } = setup();
    const v1 = await store.create(deployment('web'));
    const withStatus = await store.updateStatus({ ...v1, status: { replicas: 2, observedGeneration: 1 } });
    expect(withStatus.status?.replicas).toBe(2);
    const immutable = await apiError(store.update({ ...withStatus, spec: { ...withStatus.spec, selector: { matchLabels: { app: 'other' } }, template: { ...withStatus.spec.template, metadata: { labels: { app: 'other' } } } } }));
    expect(immutable.code).toBe('Invalid');
    expect(immutable.fieldErrors[0]).toMatchObject({ field: 'spec.selector' });
    const relabeled = await store.update({ ...withStatus, metadata: { ...withStatus.metadata, labels: { app: 'web', tier: 'x' }, uid: undefined }, status: { replicas: 99 } });
    expect(relabeled.metadata.generation).toBe(1);
    expect(relabeled.metadata.uid).toBe(v1.metadata.uid);
    expect(relabeled.status?.replicas).toBe(2); // status goes through updateStatus only
    const scaled = await store.update({ ...relabeled, spec: { ...relabeled.spec, replicas: 4 } });
    expect(scaled.metadata.generation).toBe(2);
  });

  it('a status update with a bad status is Invalid, names the field and writes nothing', async () => {
    const { store, kv } = setup();
    const p = await store.create(pod('web'));
    const before = kv.revision;
    const err = await apiError(store.updateStatus({ ...p, status: { phase: 'Started', podIP: '10.0.0' } } as unknown as Pod));
    expect(err.code).toBe('Invalid');
    expect(err.fieldErrors.map((f) => f.field)).toEqual(['status.phase', 'status.podIP']);
    expect(err.message).toMatch(/^Pod "web" is invalid:/);
    expect(kv.revision).toBe(before);
    const ok = await store.updateStatus({ ...p, status: { phase: 'Running', podIP: '127.0.0.11' } });
    expect(ok.status).toMatchObject({ phase: 'Running', podIP: '127.0.0.11' });
  });

  it('an update that changes nothing writes nothing', async () => {
    const { store, kv } = setup();
    const v1 = await store.create(deployment('web'));
    const before = kv.revision;
    const same = await store.update(v1);
    expect(kv.revision).toBe(before);
    expect(same.metadata.resourceVersion).toBe(v1.metadata.resourceVersion);
  });

  it('patches with a JSON merge patch, the status subresource apart, with resourceVersion as a precondition', async () => {
    const { store } = setup();
    const v1 = await store.create(deployment('web'));
    const p1 = await store.patch('deploy', 'default', 'web', { metadata: { labels: { tier: 'front', app: null } }, spec: { replicas: 5 } });
    expect(p1.metadata.labels).toEqual({ tier: 'front' });
    expect(p1.spec.replicas).toBe(5);
    expect(p1.metadata.generation).toBe(2);
    const p2 = await store.patch('Deployment', 'default', 'web', { status: { readyReplicas: 1 } }, { status: true });
    expect(p2.status?.readyReplicas).toBe(1);
    expect(p2.spec.replicas).toBe(5);
    const ignored = await store.patch('Deployment', 'default', 'web', { status: { readyReplicas: 9 } });
    expect(ignored.status?.readyReplicas).toBe(1);
    const err = await apiError(store.patch('Deployment', 'default', 'web', { metadata: { resourceVersion: v1.metadata.resourceVersion }, spec: { replicas: 1 } }));
    expect(err.code).toBe('Conflict');
    expect((await apiError(store.patch('Deployment', 'default', 'web', [1, 2]))).code).toBe('BadRequest');
    expect((await apiError(store.patch('Deployment', 'default', 'nope', {}))).message).toBe('deployments.apps "nope" not found');
  });
});

describe('apply', () => {
  it('creates, leaves unchanged, configures, and removes fields dropped from the manifest', async () => {
    const { store, kv } = setup();
    const manifest = deployment('web', 2, { app: 'web', tier: 'front' });
    const first = await store.apply(manifest);
    expect(first.action).toBe('created');
    expect(first.object.metadata.annotations?.[LAST_APPLIED_ANNOTATION]).toBeDefined();
    // A controller writes status; a user patches a label the manifest does not own.
    await store.updateStatus({ ...first.object, status: { replicas: 2 } });
    await store.patch('Deployment', 'default', 'web', { metadata: { labels: { owner: 'ops' } } });

    const before = kv.revision;
    const again = await store.apply(manifest);
    expect(again.action).toBe('unchanged');
    expect(kv.revision).toBe(before);

    const edited = deployment('web', 3, { app: 'web' }); // tier dropped, replicas changed
    const third = await store.apply(edited);
    expect(third.action).toBe('configured');
    expect(third.object.metadata.labels).toEqual({ app: 'web', owner: 'ops' });
    expect(third.object.spec.replicas).toBe(3);
    expect(third.object.status?.replicas).toBe(2);
    expect(third.object.metadata.generation).toBe(2);
  });

  it('rejects an invalid manifest without changing the live object', async () => {
    const { store, kv } = setup();
    await store.apply(deployment('web'));
    const before = kv.revision;
    const bad = deployment('web') as unknown as { spec: Record<string, unknown> };
    bad.spec.bogus = true;
    const err = await apiError(store.apply(bad as unknown as Deployment));
    expect(err.fieldErrors[0]).toMatchObject({ type: 'UnknownField', field: 'spec.bogus' });
    expect(kv.revision).toBe(before);
  });
});

describe('delete', () => {
  it('Background removes at once; Foreground and Orphan leave the object with a finalizer and deletionTimestamp', async () => {
    const { store } = setup();
    await store.create(deployment('a'));
    await store.create(deployment('b'));
    await store.create(deployment('c'));
    expect(await store.deleteObject('Deployment', 'default', 'a')).toMatchObject({ finished: true });
    expect(await store.get('Deployment', 'default', 'a')).toBeUndefined();
    const fg = await store.deleteObject('deployments', 'default', 'b', { propagation: 'Foreground' });
    expect(fg.finished).toBe(false);
    expect(fg.object.metadata).toMatchObject({ finalizers: ['foregroundDeletion'], deletionTimestamp: expect.any(String) });
    const orphan = await store.deleteObject('Deployment', 'default', 'c', { propagation: 'Orphan' });
    expect(orphan.object.metadata.finalizers).toEqual(['orphan']);
    // The garbage collector removes the finalizer: the object goes.
    const live = (await store.get('Deployment', 'default', 'b'))!;
    await store.update({ ...live, metadata: { ...live.metadata, finalizers: [] } });
    expect(await store.get('Deployment', 'default', 'b')).toBeUndefined();
    expect((await apiError(store.deleteObject('Deployment', 'default', 'b'))).code).toBe('NotFound');
    expect((await apiError(store.deleteObject('Deployment', 'default', 'c', { propagation: 'Sideways' as 'Orphan' }))).code).toBe('BadRequest');
  });

  it('checks preconditions', async () => {
    const { store } = setup();
    const cm = await store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { a: '1' } } as ConfigMap);
    const byUid = await apiError(store.deleteObject('ConfigMap', 'default', 'cfg', { preconditions: { uid: 'someone-else' } }));
    expect(byUid.code).toBe('Conflict');
    expect(byUid.message).toContain('Precondition failed: UID in precondition: someone-else');
    expect((await apiError(store.deleteObject('cm', 'default', 'cfg', { preconditions: { resourceVersion: '1' } }))).code).toBe('Conflict');
    await store.deleteObject('cm', 'default', 'cfg', { preconditions: { uid: cm.metadata.uid, resourceVersion: cm.metadata.resourceVersion } });
    expect(await store.get('ConfigMap', 'default', 'cfg')).toBeUndefined();
  });

  it('deletes a bound running pod gracefully: marked until its agent confirms with grace period 0', async () => {
    const { store } = setup();
    await store.create(pod('bound', { nodeName: 'node1', grace: 10 }));
    await store.create(pod('pending'));
    await store.create(pod('forced', { nodeName: 'node1' }));
    const first = await store.deleteObject('Pod', 'default', 'bound');
    expect(first.finished).toBe(false);
    expect(first.object.metadata).toMatchObject({ deletionTimestamp: expect.any(String), deletionGracePeriodSeconds: 10 });
    // A second plain delete changes nothing.
    expect((await store.deleteObject('Pod', 'default', 'bound')).object.metadata.resourceVersion).toBe(first.object.metadata.resourceVersion);
    expect(await store.deleteObject('Pod', 'default', 'bound', { gracePeriodSeconds: 0 })).toMatchObject({ finished: true });
    expect(await store.get('Pod', 'default', 'bound')).toBeUndefined();
    expect(await store.deleteObject('Pod', 'default', 'pending')).toMatchObject({ finished: true });
    expect(await store.deleteObject('Pod', 'default', 'forced', { gracePeriodSeconds: 0 })).toMatchObject({ finished: true });
    // A terminated pod has nothing to stop.
    const done = await store.create(pod('done', { nodeName: 'node1' }));
    await store.updateStatus({ ...done, status: { phase: 'Succeeded' } });
    expect(await store.deleteObject('Pod', 'default', 'done')).toMatchObject({ finished: true });
  });

  it('deleting a namespace deletes everything in it, waits for graceful pods, then removes the namespace', async () => {
    const { store } = setup();
    await store.create(namespace('team'));
    await store.create(pod('running', { namespace: 'team', nodeName: 'node1' }));
    await store.create(pod('pending', { namespace: 'team' }));
    await store.create({ ...deployment('web'), metadata: { name: 'web', namespace: 'team' } });
    await store.create(pod('elsewhere'));
    await store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'held', namespace: 'team', finalizers: ['example.com/keep'] } } as ConfigMap);
    const out = await store.deleteObject('ns', undefined, 'team');
    expect(out.finished).toBe(false);
    expect((out.object as Namespace).status?.phase).toBe('Terminating');
    expect((await store.list('Pod', { namespace: 'team' })).map((p) => [p.metadata.name, Boolean(p.metadata.deletionTimestamp)])).toEqual([['running', true]]);
    expect(await store.list('Deployment', { namespace: 'team' })).toEqual([]);
    const forbidden = await apiError(store.create(pod('late', { namespace: 'team' })));
    expect(forbidden.code).toBe('Forbidden');
    expect(forbidden.message).toBe('unable to create new content in namespace team because it is being terminated');
    // The agent confirms the pod stopped; the finalizer's owner lets go: the namespace goes with the last object.
    await store.deleteObject('Pod', 'team', 'running', { gracePeriodSeconds: 0 });
    const held = (await store.get('ConfigMap', 'team', 'held'))!;
    expect(held.metadata.deletionTimestamp).toBeDefined();
    expect(await store.get('Namespace', undefined, 'team')).toBeDefined();
    await store.update({ ...held, metadata: { ...held.metadata, finalizers: [] } });
    expect(await store.get('ConfigMap', 'team', 'held')).toBeUndefined();
    expect(await store.get('Namespace', undefined, 'team')).toBeUndefined();
    expect(await store.get('Pod', 'default', 'elsewhere')).toBeDefined();
    expect((await apiError(store.deleteObject('Namespace', undefined, 'default'))).code).toBe('Forbidden');
  });
});

describe('bind and events', () => {
  it('binds with compare-and-set on the resourceVersion and an empty nodeName', async () => {
    const { store } = setup();
    const p = await store.create(pod('web'));
    const bound = await store.bindPod('default', 'web', 'node1', p.metadata.resourceVersion!);
    expect(bound.spec.nodeName).toBe('node1');
    expect(bound.status?.conditions).toEqual([expect.objectContaining({ type: 'PodScheduled', status: 'True' })]);
    const stale = await apiError(store.bindPod('default', 'web', 'node2', p.metadata.resourceVersion!));
    expect(stale.code).toBe('Conflict');
    const twice = await apiError(store.bindPod('default', 'web', 'node2', bound.metadata.resourceVersion!));
    expect(twice.message).toBe('pod web is already assigned to node "node1"');
    expect((await apiError(store.bindPod('default', 'nope', 'node1', '1'))).code).toBe('NotFound');
  });

  it('aggregates identical events within 10 minutes, then starts over; sweeps events older than an hour', async () => {
    const { store, advance } = setup({ maxEvents: 3 });
    const record = {
      involvedObject: { kind: 'Pod', namespace: 'default', name: 'web', uid: 'u1' },
      type: 'Warning' as const,
      reason: 'FailedScheduling',
      message: '0/3 nodes are available',
      component: 'default-scheduler',
      timeMs: T0,
    };
    await store.recordEvent(record);
    await store.recordEvent({ ...record, timeMs: T0 + 60_000 });
    let events = await store.list('Event', { namespace: 'default' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ count: 2, reason: 'FailedScheduling', firstTimestamp: new Date(T0).toISOString(), lastTimestamp: new Date(T0 + 60_000).toISOString() });
    expect(events[0].metadata.name).toMatch(/^web\.[0-9a-f]{16}$/);
    await store.recordEvent({ ...record, message: 'something else', timeMs: T0 + 60_000 });
    expect(await store.list('Event')).toHaveLength(2);
    // Eleven minutes after the last one: a fresh event (count 1).
    await store.recordEvent({ ...record, timeMs: T0 + 12 * 60_000 });
    const again = (await store.list('Event')).find((e: Event) => e.message === record.message)!;
    expect(again.count).toBe(1);
    expect(again.firstTimestamp).toBe(new Date(T0 + 12 * 60_000).toISOString());
    // An hour later only the recent one survives the sweep.
    expect(await store.sweepEvents(T0 + 70 * 60_000)).toBe(1);
    expect((await store.list('Event')).map((e) => e.message)).toEqual([record.message]);
    // The count bound: the oldest go first.
    for (let i = 0; i < 4; i++) await store.recordEvent({ ...record, message: `m${i}`, timeMs: T0 + 13 * 60_000 + i });
    advance(0);
    expect(await store.sweepEvents(T0 + 14 * 60_000)).toBe(2);
    expect((await store.list('Event')).map((e) => e.message).sort()).toEqual(['m1', 'm2', 'm3']);
    expect((await apiError(store.recordEvent({ ...record, involvedObject: { kind: 'Pod', name: 'x', namespace: 'missing' } }))).code).toBe('NotFound');
  });
});

describe('list', () => {
  it('filters by label and field selectors, sorts by namespace then name, and returns the revision read at', async () => {
    const { store, kv } = setup();
    await store.create(namespace('a'));
    await store.create(namespace('a-b'));
    await store.create(pod('z', { namespace: 'a', labels: { app: 'web' }, nodeName: 'n1' }));
    await store.create(pod('y', { namespace: 'a-b', labels: { app: 'web' } }));
    await store.create(pod('x', { namespace: 'a', labels: { app: 'db' }, nodeName: 'n2' }));
    const all = await store.listWithRevision('Pod');
    expect(all.items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual(['a/x', 'a/z', 'a-b/y']);
    expect(all.resourceVersion).toBe(String(kv.revision));
    expect((await store.list('po', { labelSelector: 'app=web' })).map((p) => p.metadata.name)).toEqual(['z', 'y']);
    expect((await store.list('Pod', { labelSelector: 'app in (web,db),app!=db', namespace: 'a' })).map((p) => p.metadata.name)).toEqual(['z']);
    expect((await store.list('Pod', { fieldSelector: 'spec.nodeName=n2' })).map((p) => p.metadata.name)).toEqual(['x']);
    expect((await store.list('Pod', { fieldSelector: 'metadata.namespace!=a' })).map((p) => p.metadata.name)).toEqual(['y']);
    expect((await apiError(store.list('Pod', { labelSelector: 'app in (' }))).code).toBe('BadRequest');
    expect((await apiError(store.list('Pod', { fieldSelector: 'spec.bogus=1' }))).code).toBe('BadRequest');
    expect((await apiError(store.list('gizmos' as 'Pod'))).message).toBe('the server doesn\'t have a resource type "gizmos"');
  });
});

describe('watch', () => {
  function collect(): { events: ResourceEvent[]; errors: Error[]; summary(): string[] } {
    const events: ResourceEvent[] = [];
    const errors: Error[] = [];
    return {
      events,
      errors,
      summary: () => events.map((e) => `${e.type} ${e.object.metadata.name ?? ''}`.trim()),
    };
  }

  it('streams changes after a list\'s resourceVersion, with resourceVersions, and selector enter/leave as ADDED/DELETED', async () => {
    const { store, kv } = setup();
    await store.create(pod('a', { labels: { app: 'web' } }));
    const { resourceVersion } = await store.listWithRevision('Pod', { labelSelector: 'app=web' });
    const seen = collect();
    const watch: StoreWatch = await store.watch('Pod', { labelSelector: 'app=web', resourceVersion }, (e) => seen.events.push(e), (e) => seen.errors.push(e));
    const b = await store.create(pod('b', { labels: { app: 'web' } }));
    await store.create(pod('c', { labels: { app: 'db' } })); // never matches
    await store.patch('Pod', 'default', 'b', { metadata: { labels: { extra: '1' } } });
    await store.patch('Pod', 'default', 'b', { metadata: { labels: { app: 'db' } } }); // leaves
    await store.patch('Pod', 'default', 'c', { metadata: { labels: { app: 'web' } } }); // enters
    await store.deleteObject('Pod', 'default', 'c');
    await store.deleteObject('Pod', 'default', 'b'); // does not match: nothing
    expect(seen.summary()).toEqual(['ADDED b', 'MODIFIED b', 'DELETED b', 'ADDED c', 'DELETED c']);
    expect(seen.events[0].object.metadata.resourceVersion).toBe(b.metadata.resourceVersion);
    const deleted = seen.events[4];
    expect(Number(deleted.object.metadata.resourceVersion)).toBe(kv.revision - 1);
    expect(seen.errors).toEqual([]);
    expect(kv.stats().watchers).toBe(1);
    watch.cancel();
    expect(kv.stats().watchers).toBe(0);
  });

  it('sends initial events then a BOOKMARK, or starts from now', async () => {
    const { store } = setup();
    await store.create(pod('b'));
    await store.create(pod('a'));
    const initial = collect();
    const w1 = await store.watch('pods', { sendInitialEvents: true }, (e) => initial.events.push(e), (e) => initial.errors.push(e));
    const fromNow = collect();
    const w2 = await store.watch('pods', {}, (e) => fromNow.events.push(e), (e) => fromNow.errors.push(e));
    await store.create(pod('c'));
    expect(initial.summary()).toEqual(['ADDED a', 'ADDED b', 'BOOKMARK', 'ADDED c']);
    expect(initial.events[2].object).toMatchObject({ kind: 'Pod', metadata: { resourceVersion: expect.any(String) } });
    expect(fromNow.summary()).toEqual(['ADDED c']);
    w1.cancel();
    w2.cancel();
  });

  it('from a compacted resourceVersion: Gone, "expired, re-list"', async () => {
    const { store, kv } = setup();
    const p = await store.create(pod('a'));
    for (let i = 0; i < 5; i++) await store.patch('Pod', 'default', 'a', { metadata: { labels: { n: String(i) } } });
    kv.apply({ type: 'compact', revision: kv.revision - 1 });
    const err = await apiError(store.watch('Pod', { resourceVersion: p.metadata.resourceVersion }, () => undefined, () => undefined));
    expect(err.code).toBe('Gone');
    expect(err.message).toBe(`resourceVersion ${p.metadata.resourceVersion} is too old: the store is compacted at ${kv.compactRevision}: expired, re-list`);
    expect((await apiError(store.watch('Pod', { resourceVersion: 'abc' }, () => undefined, () => undefined))).code).toBe('BadRequest');
    expect(kv.stats().watchers).toBe(0);
  });
});

describe('RaftBackend watch across a snapshot install', () => {
  /** Just what RaftBackend reads of a RaftHost: its state machine and the `state-replaced` event. */
  function fakeHost(kv: KvStore) {
    const host = new EventEmitter() as EventEmitter & { sm: { kv: KvStore }; name: string };
    host.sm = { kv };
    host.name = 'm1';
    return host;
  }
  const put = (kv: KvStore, key: string, value: string) => kv.apply({ type: 'put', key, value });

  it('re-watches the new store from the next undelivered revision, or ends with Gone', async () => {
    const kv1 = new KvStore();
    const host = fakeHost(kv1);
    const backend = new RaftBackend(host as unknown as RaftHost, { requestTimeoutMs: 1000 });
    const seen: number[] = [];
    const errors: Error[] = [];
    const w = backend.watch('/x/', kv1.revision + 1, { onEvents: (evs) => seen.push(...evs.map((e) => e.kv.modRevision)), onError: (e) => errors.push(e) });
    put(kv1, '/x/a', '1');
    // The follower falls behind and installs a snapshot that has two more writes.
    const kv2 = KvStore.restore(kv1.snapshot());
    put(kv2, '/x/b', '2');
    put(kv2, '/x/c', '3');
    host.sm.kv = kv2;
    host.emit('state-replaced', { kv: kv1 });
    put(kv2, '/x/d', '4');
    expect(seen).toEqual([2, 3, 4, 5]);
    expect(kv1.stats().watchers).toBe(0);
    w.cancel();
    expect(kv2.stats().watchers).toBe(0);

    // A snapshot whose history starts after what the watch has seen: Gone.
    const kv3 = new KvStore();
    const host3 = fakeHost(kv3);
    const w3 = new RaftBackend(host3 as unknown as RaftHost, { requestTimeoutMs: 1000 }).watch('/x/', 2, { onEvents: () => undefined, onError: (e) => errors.push(e) });
    const kv4 = new KvStore();
    for (let i = 0; i < 5; i++) put(kv4, '/x/a', String(i));
    kv4.apply({ type: 'compact', revision: 5 });
    host3.sm.kv = kv4;
    host3.emit('state-replaced', { kv: kv3 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'Gone', message: 'resourceVersion 1 is too old: the store is compacted at 5: expired, re-list' });
    expect(host3.listenerCount('state-replaced')).toBe(0);
    w3.cancel();
  });
});
