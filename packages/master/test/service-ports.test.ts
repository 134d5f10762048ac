// Service port reservations in ResourceStore (over a bare KvStore): every service port
// and nodePort is held by one Service cluster-wide, claimed and released in the Service's
// own txn; nodePorts are kept across updates and allocated when absent; two writers
// racing for one port (two stores = two masters over one KV) end with exactly one winner.
import { ApiError, type Namespace, type Service } from '@bramble/api';
import { SERVICE_PORTS_PREFIX, servicePortKey } from '@bramble/controllers';
import { KvStore, prefixEnd } from '@bramble/kv';
import { describe, expect, it } from 'vitest';
import { KvStoreBackend, type ResourceBackend } from '../src/resources/backend.js';
import { ResourceStore } from '../src/resources/store.js';
import { apiError } from './api-error.js';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);

function setup(opts: { random?: () => number; backend?: (kv: KvStore) => ResourceBackend } = {}) {
  const kv = new KvStore();
  let uids = 0;
  const backend = opts.backend ? opts.backend(kv) : new KvStoreBackend(kv);
  const make = () => new ResourceStore(backend, { now: () => T0, uid: () => `uid-${++uids}`, random: opts.random ?? (() => 0) });
  return { kv, store: make(), make };
}

function service(name: string, ports: Service['spec']['ports'], init: { type?: 'ClusterIP' | 'NodePort'; namespace?: string } = {}): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: init.namespace ?? 'default' },
    spec: { ...(init.type ? { type: init.type } : {}), selector: { app: name }, ports },
  };
}

/** port -> "namespace/name" of every reservation. */
function reservations(kv: KvStore): Record<number, string> {
  const out: Record<number, string> = {};
  for (const item of kv.range({ key: SERVICE_PORTS_PREFIX, rangeEnd: prefixEnd(SERVICE_PORTS_PREFIX) }).kvs) {
    const owner = JSON.parse(item.value) as { namespace: string; name: string };
    out[Number(item.key.slice(SERVICE_PORTS_PREFIX.length))] = `${owner.namespace}/${owner.name}`;
  }
  return out;
}


describe('service port reservation', () => {
  it('reserves every port of a Service atomically with it, and refuses a port already allocated, changing nothing', async () => {
    const { store, kv } = setup();
    await store.create(service('redis', [{ name: 'redis', port: 6379 }, { name: 'sentinel', port: 26379 }]));
    expect(reservations(kv)).toEqual({ 6379: 'default/redis', 26379: 'default/redis' });
    const revision = kv.revision;
    const err = await apiError(store.create(service('cache', [{ name: 'a', port: 7000 }, { name: 'b', port: 6379 }])));
    expect(err.code).toBe('Invalid');
    expect(err.message).toBe('Service "cache" is invalid: spec.ports[1].port: Invalid value: 6379: provided port is already allocated');
    expect(err.fieldErrors?.[0]).toMatchObject({ field: 'spec.ports[1].port', value: 6379 });
    expect(kv.revision).toBe(revision);
    expect(await store.get('Service', 'default', 'cache')).toBeUndefined();
    // Namespaces do not matter: ports are cluster-wide.
    await store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } } as Namespace);
    const other = await apiError(store.create(service('redis', [{ port: 6379 }], { namespace: 'shop' })));
    expect(other.message).toContain('spec.ports[0].port: Invalid value: 6379: provided port is already allocated');
  });

  it('a dry-run create reserves nothing', async () => {
    const { store, kv } = setup();
    const svc = await store.create(service('web', [{ port: 8080 }], { type: 'NodePort' }), { dryRun: true });
    expect(svc.spec.ports[0].nodePort).toBe(30000);
    expect(reservations(kv)).toEqual({});
  });

  it('checks given nodePorts: range, type, taken by a nodePort or a service port, twice in one Service', async () => {
    const { store, kv } = setup();
    const created = await store.create(service('web', [{ port: 8080, nodePort: 30080 }], { type: 'NodePort' }));
    expect(created.spec.ports[0].nodePort).toBe(30080);
    expect(reservations(kv)).toEqual({ 8080: 'default/web', 30080: 'default/web' });

    const range = await apiError(store.create(service('a', [{ port: 8081, nodePort: 29999 }], { type: 'NodePort' })));
    expect(range.message).toContain('spec.ports[0].nodePort: Invalid value: 29999: provided port is not in the valid range. The range of valid ports is 30000-32767');
    const clusterIp = await apiError(store.create(service('b', [{ port: 8082, nodePort: 30081 }])));
    expect(clusterIp.message).toContain("spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'");
    const taken = await apiError(store.create(service('c', [{ port: 8083, nodePort: 30080 }], { type: 'NodePort' })));
    expect(taken.message).toBe('Service "c" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated');
    const takenAsPort = await apiError(store.create(service('d', [{ port: 30080 }])));
    expect(takenAsPort.message).toContain('spec.ports[0].port: Invalid value: 30080: provided port is already allocated');
    const twice = await apiError(store.create(service('f', [{ name: 'x', port: 31000 }, { name: 'y', port: 8085, nodePort: 31000 }], { type: 'NodePort' })));
    expect(twice.message).toContain('spec.ports[1].nodePort: Invalid value: 31000: provided port is already allocated');
    expect(reservations(kv)).toEqual({ 8080: 'default/web', 30080: 'default/web' });
  });

  it('allocates a free nodePort when none is given: a scan from the injected random start', async () => {
    const { store, kv } = setup({ random: () => 0.5 });
    const start = 30000 + Math.floor(0.5 * 2768);
    await store.create(service('blocker', [{ port: start }]));
    const a = await store.create(service('a', [{ port: 8080 }], { type: 'NodePort' }));
    const b = await store.create(service('b', [{ name: 'x', port: 8081 }, { name: 'y', port: 8082 }], { type: 'NodePort' }));
    expect(a.spec.ports[0].nodePort).toBe(start + 1);
    expect(b.spec.ports.map((p) => p.nodePort)).toEqual([start + 2, start + 3]);
    expect(reservations(kv)[start + 3]).toBe('default/b');
  });

  it('keeps an allocated nodePort across updates and applies that leave it unset', async () => {
    const { store } = setup();
    const manifest = service('web', [{ port: 8080 }], { type: 'NodePort' });
    const first = await store.apply(manifest);
    const nodePort = first.object.spec.ports[0].nodePort;
    expect(nodePort).toBe(30000);
    expect((await store.apply(manifest)).action).toBe('unchanged');
    const live = (await store.get('Service', 'default', 'web'))!;
    const replaced = await store.update({ ...live, spec: { type: 'NodePort', selector: { app: 'other' }, ports: [{ port: 8080 }] } });
    expect(replaced.spec.ports[0].nodePort).toBe(nodePort);
    expect(replaced.spec.selector).toEqual({ app: 'other' });
  });

  it('releases ports an update drops or changes, claims new ones, and refuses a taken one without changing anything', async () => {
    const { store, kv } = setup();
    await store.create(service('web', [{ port: 8080 }], { type: 'NodePort' }));
    await store.create(service('db', [{ port: 5432 }]));
    expect(reservations(kv)).toEqual({ 8080: 'default/web', 30000: 'default/web', 5432: 'default/db' });

    await store.patch('Service', 'default', 'web', { spec: { ports: [{ port: 8081, nodePort: 30001 }] } });
    expect(reservations(kv)).toEqual({ 8081: 'default/web', 30001: 'default/web', 5432: 'default/db' });
    await store.create(service('old-port', [{ port: 8080 }], { type: 'NodePort' })); // 8080 and 30000 are free again
    expect(reservations(kv)).toMatchObject({ 8080: 'default/old-port', 30000: 'default/old-port' });

    const revision = kv.revision;
    const err = await apiError(store.patch('Service', 'default', 'web', { spec: { ports: [{ port: 5432, nodePort: 30001 }] } }));
    expect(err.message).toContain('spec.ports[0].port: Invalid value: 5432: provided port is already allocated');
    expect(kv.revision).toBe(revision);
    expect((await store.get('Service', 'default', 'web'))!.spec.ports).toEqual([{ port: 8081, nodePort: 30001, protocol: 'TCP', targetPort: 8081 }]);

    // NodePort -> ClusterIP gives the nodePort back; ClusterIP -> NodePort allocates one.
    await store.patch('Service', 'default', 'web', { spec: { type: 'ClusterIP', ports: [{ port: 8081 }] } });
    expect(reservations(kv)[30001]).toBeUndefined();
    const back = await store.patch('Service', 'default', 'web', { spec: { type: 'NodePort' } });
    expect(back.spec.ports[0].nodePort).toBe(30001);
    expect(reservations(kv)[30001]).toBe('default/web');
  });

  it('releases everything on delete, also when a namespace goes', async () => {
    const { store, kv } = setup();
    await store.create(service('web', [{ port: 8080 }], { type: 'NodePort' }));
    await store.delete('Service', 'default', 'web');
    expect(reservations(kv)).toEqual({});
    await store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } } as Namespace);
    await store.create(service('web', [{ port: 8080, nodePort: 30080 }], { type: 'NodePort', namespace: 'shop' }));
    expect(reservations(kv)).toEqual({ 8080: 'shop/web', 30080: 'shop/web' });
    await store.delete('Namespace', undefined, 'shop');
    expect(reservations(kv)).toEqual({});
    expect(kv.range({ key: servicePortKey(8080) }).kvs).toEqual([]);
  });

  it('a Service held by a finalizer keeps its ports until it is gone', async () => {
    const { store, kv } = setup();
    await store.create(service('web', [{ port: 8080 }]));
    await store.deleteObject('Service', 'default', 'web', { propagation: 'Foreground' });
    expect(reservations(kv)).toEqual({ 8080: 'default/web' });
    const live = (await store.get('Service', 'default', 'web'))!;
    await store.update({ ...live, metadata: { ...live.metadata, finalizers: [] } });
    expect(await store.get('Service', 'default', 'web')).toBeUndefined();
    expect(reservations(kv)).toEqual({});
  });

  it('concurrent creates racing for one port on two masters: exactly one wins', async () => {
    // Txns that resolve a macrotask later, so every create has planned before any has written.
    const { kv, make } = setup({
      backend: (store) => {
        const inner = new KvStoreBackend(store);
        const slow: ResourceBackend = Object.create(inner) as ResourceBackend;
        slow.txn = async (c, s, f) => {
          await new Promise((resolve) => setImmediate(resolve));
          return inner.txn(c, s, f);
        };
        return slow;
      },
    });
    const masters = [make(), make()];
    await masters[0].ensureDefaultNamespace();
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => masters[i % 2].create(service(`svc-${i}`, [{ port: 6379 }]))));
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(5);
    for (const r of lost) expect((r.reason as ApiError).message).toContain('spec.ports[0].port: Invalid value: 6379: provided port is already allocated');
    const winner = (won[0] as PromiseFulfilledResult<Service>).value.metadata.name;
    expect(reservations(kv)).toEqual({ 6379: `default/${winner}` });
    expect((await masters[1].list('Service')).map((s) => s.metadata.name)).toEqual([winner]);
  });

  it('concurrent NodePort creates with the same random start each get their own nodePort', async () => {
    const { kv, make } = setup({
      backend: (store) => {
        const inner = new KvStoreBackend(store);
        const slow: ResourceBackend = Object.create(inner) as ResourceBackend;
        slow.txn = async (c, s, f) => {
          await new Promise((resolve) => setImmediate(resolve));
          return inner.txn(c, s, f);
        };
        return slow;
      },
    });
    const masters = [make(), make(), make()];
    await masters[0].ensureDefaultNamespace();
    const created = await Promise.all(masters.map((m, i) => m.create(service(`svc-${i}`, [{ port: 9000 + i }], { type: 'NodePort' }))));
    const nodePorts = created.map((s) => s.spec.ports[0].nodePort);
    expect(new Set(nodePorts).size).toBe(3);
    for (const [i, np] of nodePorts.entries()) expect(reservations(kv)[np!]).toBe(`default/svc-${i}`);
  });
});
