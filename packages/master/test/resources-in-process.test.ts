// Three masters in one process serving the Resources API: every RPC through
// client.resources on a follower and on the leader, bad requests that change
// nothing, and a watch that survives the leader's stop.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ApiError, type ConfigMap, type Deployment, type Namespace, type Pod } from '@bramble/api';
import { BrambleClient, type ResourceWatchEvent } from '@bramble/client';
import { freePort, waitFor } from '@bramble/testkit';
import { serviceClient } from '@bramble/transport';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startMaster, type Master } from '../src/index.js';
import { apiError } from './api-error.js';

const masters: Master[] = [];
const dirs: string[] = [];
const clients: Array<{ close(): void }> = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(masters.splice(0).map((m) => m.stop().catch(() => undefined)));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function startCluster(): Promise<{ peers: Record<string, string>; list: Master[] }> {
  const peers: Record<string, string> = {};
  for (let i = 1; i <= 3; i++) peers[`m${i}`] = `127.0.0.1:${await freePort()}`;
  const list: Master[] = [];
  for (const [name, listen] of Object.entries(peers)) {
    const dir = await mkdtemp(join(tmpdir(), `bramble-resources-${name}-`));
    dirs.push(dir);
    const m = await startMaster({ name, listen, peers, dataDir: join(dir, name), tickMs: 20 }, pino({ level: 'silent' }));
    masters.push(m);
    list.push(m);
  }
  return { peers, list };
}

function client(endpoints: string[]): BrambleClient {
  const c = new BrambleClient({ endpoints, requestTimeoutMs: 8_000 });
  clients.push(c);
  return c;
}


function deployment(name: string, namespace: string, replicas: number): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image: 'nginx', command: ['serve'] }] } },
    },
  };
}

/** ConfigMaps where the leader's controllers must not interfere (they manage pods). */
function configMap(name: string, namespace: string): ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { k: name } };
}

function pod(name: string, namespace: string): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: { app: 'p' } }, spec: { containers: [{ name: 'main', command: ['sleep', '100'] }] } };
}

async function retryOnConflict<T>(write: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (attempt >= attempts || (err as { code?: string }).code !== 'Conflict') throw err;
    }
  }
}

/** Every RPC once, in namespace `ns`, through `c`. */
async function exerciseEveryRpc(c: BrambleClient, ns: string): Promise<void> {
  const r = c.resources;
  await r.create<Namespace>({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const dry = await r.create(deployment('web', ns, 2), { dryRun: true });
  expect(dry.spec.strategy?.type).toBe('RollingUpdate');
  await expect(r.get('deploy', ns, 'web')).rejects.toMatchObject({ code: 'NotFound', message: 'deployments.apps "web" not found' });

  const created = await r.create(deployment('web', ns, 2));
  expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
  expect(await r.get('Deployment', ns, 'web')).toEqual(created);
  expect(await apiError(r.create(deployment('web', ns, 2)))).toMatchObject({ code: 'AlreadyExists', message: 'deployments.apps "web" already exists' });

  // The leader's deployment controller writes this Deployment's status too: writes go as
  // clients make them, re-read and retried on a Conflict (each attempt is a compare-and-set).
  const scaled = await retryOnConflict(async () => {
    const current = await r.get('Deployment', ns, 'web');
    return r.update({ ...current, spec: { ...current.spec, replicas: 3 } });
  });
  expect(scaled.metadata.generation).toBe(2);
  const stale = await apiError(r.update({ ...created, spec: { ...created.spec, replicas: 4 } }));
  expect(stale.code).toBe('Conflict');
  expect(stale.message).toBe(
    'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply your changes to the latest version and try again',
  );
  const withStatus = await retryOnConflict(async () => r.updateStatus({ ...(await r.get('Deployment', ns, 'web')), status: { replicas: 3 } }));
  expect(withStatus.status).toEqual({ replicas: 3 });
  const patched = await r.patch('deployments', ns, 'web', { metadata: { labels: { tier: 'front' } } });
  expect(patched.metadata.labels).toEqual({ app: 'web', tier: 'front' });
  let statusBefore: Deployment['status'];
  const statusPatched = await retryOnConflict(async () => {
    const current = await r.get('Deployment', ns, 'web');
    statusBefore = current.status;
    return r.patch('Deployment', ns, 'web', { metadata: { resourceVersion: current.metadata.resourceVersion }, status: { readyReplicas: 2 } }, { status: true });
  });
  // A merge patch of the status keeps what it does not name.
  expect(statusPatched.status).toEqual({ ...statusBefore, readyReplicas: 2 });

  const cm: ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: ns }, data: { a: '1', b: '2' } };
  expect((await r.apply(cm)).action).toBe('created');
  expect((await r.apply(cm)).action).toBe('unchanged');
  const reapplied = await r.apply({ ...cm, data: { a: '1' } });
  expect(reapplied.action).toBe('configured');
  expect(reapplied.object.data).toEqual({ a: '1' });

  const list = await r.list('Deployment', { namespace: ns, labelSelector: 'tier=front' });
  expect(list.items.map((d) => d.metadata.name)).toEqual(['web']);
  expect(Number(list.resourceVersion)).toBeGreaterThanOrEqual(Number(statusPatched.metadata.resourceVersion));

  await r.create(pod('p1', ns));
  // The leader's scheduler marks it unschedulable (no nodes here) with a status write; bind after that,
  // or the bind's resourceVersion may be stale.
  const p = await waitFor('the scheduler to mark p1 unschedulable', async () => {
    const current = await r.get('Pod', ns, 'p1');
    return current.status?.conditions?.some((c) => c.type === 'PodScheduled') === true ? current : undefined;
  });
  const bound = await r.bind(ns, 'p1', 'node1', p.metadata.resourceVersion!);
  expect(bound.spec.nodeName).toBe('node1');
  expect(await apiError(r.bind(ns, 'p1', 'node2', bound.metadata.resourceVersion!))).toMatchObject({ code: 'Conflict' });

  const event = { involvedObject: { kind: 'Pod', namespace: ns, name: 'p1' }, type: 'Normal' as const, reason: 'Scheduled', message: 'assigned to node1', component: 'test', timeMs: Date.now() };
  await r.recordEvent(event);
  await r.recordEvent(event);
  // (The leader's controllers record events of their own in this namespace too.)
  const events = (await r.list('Event', { namespace: ns })).items.filter((e) => e.source?.component === 'test');
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({ count: 2, reason: 'Scheduled', involvedObject: { name: 'p1' } });
  // A batch: the same event once more (count 3) and a new one, in one request.
  await r.recordEvents([event, { ...event, reason: 'Pulled', message: 'image present' }]);
  const batched = (await r.list('Event', { namespace: ns })).items.filter((e) => e.source?.component === 'test');
  expect(batched.map((e) => [e.reason, e.count]).sort()).toEqual([['Pulled', 1], ['Scheduled', 3]]);
  expect(await apiError(r.recordEvents([event, { ...event, timeMs: 'soon' as unknown as number }]))).toMatchObject({
    code: 'BadRequest',
    message: 'events[1]: timeMs: must be a number of ms since the epoch (got a string ("soon"))',
  });
  expect((await r.list('Event', { namespace: ns })).items.find((e) => e.source?.component === 'test' && e.reason === 'Scheduled')?.count).toBe(3);

  // A bound pod is deleted gracefully; the agent's delete with grace period 0 removes it.
  const graceful = await r.delete('Pod', ns, 'p1');
  expect(graceful.finished).toBe(false);
  expect(graceful.object.metadata.deletionGracePeriodSeconds).toBe(30);
  expect((await r.delete('Pod', ns, 'p1', { gracePeriodSeconds: 0 })).finished).toBe(true);
  const fg = await r.delete('Deployment', ns, 'web', { propagation: 'Foreground' });
  expect(fg).toMatchObject({ finished: false, object: { metadata: { finalizers: ['foregroundDeletion'] } } });
  expect(await apiError(r.delete('ConfigMap', ns, 'cfg', { preconditions: { uid: 'nope' } }))).toMatchObject({ code: 'Conflict' });
  expect((await r.delete('ConfigMap', ns, 'cfg')).finished).toBe(true);
}

describe('Resources API on masters in one process', () => {
  it('serves every RPC on a follower and on the leader', async () => {
    const { peers, list } = await startCluster();
    const leader = await waitFor('a leader', () => list.find((m) => m.host.isLeader));
    const follower = list.find((m) => m !== leader)!;
    await exerciseEveryRpc(client([peers[follower.name]]), 'on-follower');
    await exerciseEveryRpc(client([peers[leader.name]]), 'on-leader');
    // The default namespace exists (created when the leader started).
    const all = client(Object.values(peers));
    await waitFor('the default namespace', () => all.resources.get('Namespace', undefined, 'default').then(() => true));
    // Every member applied the same objects.
    const revisions = await waitFor('members converged', () => {
      const revs = list.map((m) => m.host.sm.kv.revision);
      return revs.every((r) => r === revs[0]) ? revs : undefined;
    });
    expect(revisions[0]).toBeGreaterThan(10);
  });

  it('bad requests get clear errors and change nothing', async () => {
    const { peers, list } = await startCluster();
    const leader = await waitFor('a leader', () => list.find((m) => m.host.isLeader));
    const c = client(Object.values(peers));
    await c.resources.create(configMap('ok', 'default'));
    // The leader's controllers write too (events, leases): look at the objects the requests named.
    const objects = async (): Promise<string[]> =>
      leader.host.sm.kv.range({ key: '/registry/configmaps/', rangeEnd: '/registry/configmaps0' }).kvs.map((kv) => `${kv.key}@${kv.modRevision}`);
    const before = await objects();

    const unknownKind = await apiError(c.resources.get('foo' as 'Pod', 'default', 'x'));
    expect(unknownKind).toMatchObject({ code: 'NotFound', message: 'the server doesn\'t have a resource type "foo"' });
    const bad = { ...configMap('bad', 'default'), metadata: { name: 'bad', namespace: 'default', labelz: { a: 'b' } } };
    const unknownField = await apiError(c.resources.create(bad as unknown as ConfigMap));
    expect(unknownField.code).toBe('Invalid');
    expect(unknownField.fieldErrors).toEqual([expect.objectContaining({ type: 'UnknownField', field: 'metadata.labelz', path: ['metadata', 'labelz'] })]);
    const okNow = await c.resources.get('ConfigMap', 'default', 'ok');
    expect(await apiError(c.resources.update({ ...okNow, data: { k: 'x' }, immutable: 'yes' } as unknown as ConfigMap))).toMatchObject({ code: 'Invalid' });
    expect(await apiError(c.resources.list('Pod', { labelSelector: 'a in (' }))).toMatchObject({ code: 'BadRequest' });

    // Malformed JSON, sent raw: INVALID_ARGUMENT naming the field, with the ApiError in the trailer.
    const Ctor = serviceClient('api.proto', 'bramble.api.Resources');
    const raw = new Ctor(Object.values(peers)[0], grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, Function>;
    clients.push(raw);
    const err = await new Promise<grpc.ServiceError>((resolve) => raw.Create({ object_json: '{"kind": "Pod",' }, (e: grpc.ServiceError) => resolve(e)));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^object_json: invalid JSON: /);
    const trailer = JSON.parse(String(err.metadata.get('bramble-api-error-bin')[0]));
    expect(trailer).toMatchObject({ code: 'BadRequest', message: err.details });
    const tooBig = await new Promise<grpc.ServiceError>((resolve) => raw.Create({ object_json: 'x'.repeat(2 * 1024 * 1024) }, (e: grpc.ServiceError) => resolve(e)));
    expect(tooBig.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(tooBig.details).toMatch(/request too large: \d+ bytes, the limit is 1572864/);

    expect(await objects()).toEqual(before);
    expect((await c.resources.list('ConfigMap')).items.map((p) => p.metadata.name)).toEqual(['ok']);
  });

  it('a watch survives the leader stopping, with every event exactly once, and leaves no watcher behind', async () => {
    const { peers, list } = await startCluster();
    const leader = await waitFor('a leader', () => list.find((m) => m.host.isLeader));
    // The watch's client prefers the leader: put it first.
    const endpoints = [peers[leader.name], ...Object.entries(peers).filter(([n]) => n !== leader.name).map(([, a]) => a)];
    const watching = client(endpoints);
    const writer = client(Object.values(peers));
    await writer.resources.create(configMap('before', 'default'));
    const start = await watching.resources.list('ConfigMap', { namespace: 'default' });
    const seen: Array<ResourceWatchEvent<ConfigMap>> = [];
    const handle = watching.resources.watch('ConfigMap', { namespace: 'default', resourceVersion: start.resourceVersion }, (e) => seen.push(e));
    await writer.resources.create(configMap('a', 'default'));
    await waitFor('ADDED a', () => seen.some((e) => e.object.metadata.name === 'a'));
    await waitFor('the watch registered on the leader', () => leader.host.sm.kv.stats().watchers > 0);

    await leader.stop();
    masters.splice(masters.indexOf(leader), 1);
    await writer.resources.create(configMap('b', 'default'));
    await writer.resources.patch('ConfigMap', 'default', 'a', { data: { moved: 'yes' } });
    await writer.resources.delete('ConfigMap', 'default', 'before');
    await waitFor('events after the failover', () => seen.some((e) => e.type === 'DELETED'), 20_000);
    expect(seen.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED a', 'ADDED b', 'MODIFIED a', 'DELETED before']);
    const rvs = seen.map((e) => Number(e.object.metadata.resourceVersion));
    expect([...rvs].sort((x, y) => x - y)).toEqual(rvs);

    handle.close();
    expect(await handle.done).toBeUndefined();
    const alive = list.filter((m) => m !== leader);
    await waitFor('no watcher left on any master', () => alive.every((m) => m.host.sm.kv.stats().watchers === 0));
  });

  it('a watch from a compacted resourceVersion ends with Gone', async () => {
    const { peers, list } = await startCluster();
    await waitFor('a leader', () => list.find((m) => m.host.isLeader));
    const c = client(Object.values(peers));
    const p = await c.resources.create(pod('a', 'default'));
    for (let i = 0; i < 3; i++) await c.resources.patch('Pod', 'default', 'a', { metadata: { labels: { n: String(i) } } });
    const current = await c.get('/registry/pods/default/a');
    await c.compact(current.header.revision);
    const handle = c.resources.watch('Pod', { resourceVersion: p.metadata.resourceVersion }, () => undefined);
    const err = await handle.done;
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'Gone', message: `resourceVersion ${p.metadata.resourceVersion} is too old: the store is compacted at ${current.header.revision}: expired, re-list` });
  });
});
