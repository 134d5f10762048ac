// The Endpoints controller: which pods a Service's Endpoints list, where (node address +
// host port), ready vs not ready, deleting pods leaving at once, writes only on change,
// and Endpoints going with their Service.
import { describe, expect, it } from 'vitest';
import type { Endpoints, Pod, Service } from '@bramble/api';
import {
  desiredEndpoints,
  ENDPOINTS_MANAGED_BY_LABEL,
  EndpointsController,
  MemoryClient,
  podPortFor,
} from '../src/index.js';

const T0 = Date.UTC(2025, 0, 1);

interface PodInit {
  node?: string;
  ip?: string;
  ready?: boolean;
  labels?: Record<string, string>;
  /** containerPort -> hostPort (reported by the agent); name optional. */
  ports?: Array<{ name?: string; containerPort: number; hostPort?: number }>;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  namespace?: string;
}

function pod(name: string, init: PodInit = {}): Pod {
  const ports = init.ports ?? [{ name: 'http', containerPort: 8080, hostPort: 40000 }];
  const reported = ports.filter((p) => p.hostPort !== undefined).map((p) => ({ ...(p.name ? { name: p.name } : {}), containerPort: p.containerPort, hostPort: p.hostPort!, protocol: 'TCP' as const }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: init.namespace ?? 'default', uid: `uid-${name}`, labels: init.labels ?? { app: 'web' } },
    spec: {
      ...(init.node === '' ? {} : { nodeName: init.node ?? 'node1' }),
      containers: [{ name: 'web', command: ['serve'], ports: ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), containerPort: p.containerPort })) }],
    },
    status: {
      phase: init.phase ?? 'Running',
      ...(init.ip === '' ? {} : { hostIP: init.ip ?? '127.0.0.11', podIP: init.ip ?? '127.0.0.11' }),
      conditions: [{ type: 'Ready', status: init.ready === false ? 'False' : 'True' }],
      containerStatuses: [{ name: 'web', ready: init.ready !== false, restartCount: 0, ports: reported }],
    },
  } as Pod;
}

function service(name: string, init: { selector?: Record<string, string>; ports?: Service['spec']['ports']; labels?: Record<string, string>; namespace?: string } = {}): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: init.namespace ?? 'default', ...(init.labels ? { labels: init.labels } : {}) },
    spec: { selector: init.selector ?? { app: 'web' }, ports: init.ports ?? [{ port: 8080, targetPort: 'http' }] },
  };
}

async function setup(objects: Array<Pod | Service | Endpoints>) {
  const client = new MemoryClient({ now: () => T0 });
  for (const o of objects) await client.create(o);
  const controller = new EndpointsController(client);
  return { client, controller };
}

describe('desiredEndpoints', () => {
  it('lists ready pods by node address and host port, one subset per distinct port set', () => {
    const svc = service('web');
    const pods = [
      pod('a', { ip: '127.0.0.12', ports: [{ name: 'http', containerPort: 8080, hostPort: 41001 }] }),
      pod('b', { ip: '127.0.0.11', ports: [{ name: 'http', containerPort: 8080, hostPort: 41000 }] }),
      pod('c', { ip: '127.0.0.13', ports: [{ name: 'http', containerPort: 8080, hostPort: 41000 }] }),
    ];
    const ep = desiredEndpoints(svc, pods);
    expect(ep.metadata).toMatchObject({ name: 'web', namespace: 'default', labels: { [ENDPOINTS_MANAGED_BY_LABEL]: 'endpoint-controller' } });
    expect(ep.subsets).toEqual([
      {
        addresses: [
          { ip: '127.0.0.11', nodeName: 'node1', targetRef: { kind: 'Pod', namespace: 'default', name: 'b', uid: 'uid-b' } },
          { ip: '127.0.0.13', nodeName: 'node1', targetRef: { kind: 'Pod', namespace: 'default', name: 'c', uid: 'uid-c' } },
        ],
        ports: [{ port: 41000, protocol: 'TCP' }],
      },
      {
        addresses: [{ ip: '127.0.0.12', nodeName: 'node1', targetRef: { kind: 'Pod', namespace: 'default', name: 'a', uid: 'uid-a' } }],
        ports: [{ port: 41001, protocol: 'TCP' }],
      },
    ]);
  });

  it('puts unready pods in notReadyAddresses and leaves out deleting, terminated, unbound and address-less pods', () => {
    const deleting = pod('deleting', { ports: [{ name: 'http', containerPort: 8080, hostPort: 1 }] });
    deleting.metadata.deletionTimestamp = '2025-01-01T00:00:00Z';
    const pods = [
      pod('ready', { ports: [{ name: 'http', containerPort: 8080, hostPort: 40000 }] }),
      pod('unready', { ready: false, ports: [{ name: 'http', containerPort: 8080, hostPort: 40000 }] }),
      deleting,
      pod('done', { phase: 'Succeeded' }),
      pod('failed', { phase: 'Failed' }),
      pod('pending', { node: '', ip: '', phase: 'Pending' }),
      pod('other-app', { labels: { app: 'db' } }),
      pod('other-ns', { namespace: 'shop' }),
    ];
    const ep = desiredEndpoints(service('web'), pods.filter((p) => p.metadata.namespace === 'default'));
    expect(ep.subsets).toHaveLength(1);
    expect(ep.subsets![0].addresses!.map((a) => a.targetRef!.name)).toEqual(['ready']);
    expect(ep.subsets![0].notReadyAddresses!.map((a) => a.targetRef!.name)).toEqual(['unready']);
  });

  it('has no subsets when nothing matches', () => {
    expect(desiredEndpoints(service('web', { selector: { app: 'none' } }), [pod('a')]).subsets).toBeUndefined();
  });

  it('resolves targetPort by number and by name, per port, with port names carried', () => {
    const p = pod('a', {
      ports: [
        { name: 'http', containerPort: 8080, hostPort: 40000 },
        { name: 'metrics', containerPort: 9100, hostPort: 40001 },
      ],
    });
    expect(podPortFor(p, { port: 80, targetPort: 8080 })).toBe(40000);
    expect(podPortFor(p, { port: 80, targetPort: 'metrics' })).toBe(40001);
    expect(podPortFor(p, { port: 80, targetPort: 'nope' })).toBeUndefined();
    // A number the pod does not declare is used as it is (the pod binds it itself).
    expect(podPortFor(p, { port: 80, targetPort: 7000 })).toBe(7000);
    // Declared but the agent has not reported its host port yet: not servable.
    const unreported = pod('b', { ports: [{ name: 'http', containerPort: 8080 }] });
    expect(podPortFor(unreported, { port: 80, targetPort: 'http' })).toBeUndefined();
    expect(podPortFor(unreported, { port: 80, targetPort: 8080 })).toBeUndefined();

    const svc = service('web', { ports: [{ name: 'web', port: 8080, targetPort: 'http' }, { name: 'metrics', port: 9100, targetPort: 9100 }] });
    expect(desiredEndpoints(svc, [p]).subsets![0].ports).toEqual([
      { name: 'metrics', port: 40001, protocol: 'TCP' },
      { name: 'web', port: 40000, protocol: 'TCP' },
    ]);
  });
});

describe('EndpointsController', () => {
  it('creates the Endpoints of a Service with a selector, then writes only on change', async () => {
    const { client, controller } = await setup([service('web', { labels: { tier: 'front' } }), pod('a'), pod('b', { ip: '127.0.0.12' })]);
    const report = await controller.runOnce(T0);
    expect(report.errors).toEqual([]);
    const ep = (await client.get('Endpoints', 'default', 'web'))!;
    expect(ep.metadata.labels).toEqual({ tier: 'front', [ENDPOINTS_MANAGED_BY_LABEL]: 'endpoint-controller' });
    expect(ep.metadata.ownerReferences).toBeUndefined();
    expect(ep.subsets![0].addresses!.map((a) => a.ip)).toEqual(['127.0.0.11', '127.0.0.12']);

    const writes = client.writes.length;
    await controller.runOnce(T0);
    expect(client.writes.length).toBe(writes);

    // A pod turns unready: it moves to notReadyAddresses.
    const b = (await client.get('Pod', 'default', 'b'))!;
    b.status!.conditions = [{ type: 'Ready', status: 'False' }];
    await client.updateStatus(b);
    await controller.runOnce(T0);
    const after = (await client.get('Endpoints', 'default', 'web'))!;
    expect(after.subsets![0].addresses!.map((a) => a.targetRef!.name)).toEqual(['a']);
    expect(after.subsets![0].notReadyAddresses!.map((a) => a.targetRef!.name)).toEqual(['b']);
  });

  it('drops a pod being deleted at once', async () => {
    const client = new MemoryClient({ now: () => T0, gracefulPodDeletion: true });
    await client.create(service('web'));
    await client.create(pod('a'));
    await client.create(pod('b', { ip: '127.0.0.12' }));
    const controller = new EndpointsController(client);
    await controller.runOnce(T0);
    await client.delete('Pod', 'default', 'b'); // marked, the agent has not stopped it yet
    expect((await client.get('Pod', 'default', 'b'))?.metadata.deletionTimestamp).toBeDefined();
    await controller.runOnce(T0);
    const ep = (await client.get('Endpoints', 'default', 'web'))!;
    expect(ep.subsets!.flatMap((s) => [...(s.addresses ?? []), ...(s.notReadyAddresses ?? [])]).map((a) => a.targetRef!.name)).toEqual(['a']);
  });

  it('empties the Endpoints when no pod is left, and deletes them with the Service', async () => {
    const { client, controller } = await setup([service('web'), pod('a')]);
    await controller.runOnce(T0);
    await client.delete('Pod', 'default', 'a');
    await controller.runOnce(T0);
    expect((await client.get('Endpoints', 'default', 'web'))?.subsets).toBeUndefined();
    await client.delete('Service', 'default', 'web');
    await controller.runOnce(T0);
    expect(await client.get('Endpoints', 'default', 'web')).toBeUndefined();
  });

  it('leaves the Endpoints of a selectorless Service alone', async () => {
    const manual: Endpoints = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'external', namespace: 'default' },
      subsets: [{ addresses: [{ ip: '127.0.0.50' }], ports: [{ port: 5432 }] }],
    };
    const svc = service('external', { ports: [{ port: 5432 }] });
    delete svc.spec.selector;
    const { client, controller } = await setup([svc, manual]);
    const writes = client.writes.length;
    const report = await controller.runOnce(T0);
    expect(report.actions).toEqual([]);
    expect(client.writes.length).toBe(writes);
    expect((await client.get('Endpoints', 'default', 'external'))!.subsets![0].addresses![0].ip).toBe('127.0.0.50');
  });

  it('deletes its Endpoints when the Service loses its selector', async () => {
    const { client, controller } = await setup([service('web'), pod('a')]);
    await controller.runOnce(T0);
    const svc = (await client.get('Service', 'default', 'web'))!;
    delete svc.spec.selector;
    await client.update(svc);
    await controller.runOnce(T0);
    expect(await client.get('Endpoints', 'default', 'web')).toBeUndefined();
  });

  it('keeps namespaces apart', async () => {
    const { client, controller } = await setup([
      service('web', { namespace: 'default', ports: [{ port: 8080, targetPort: 'http' }] }),
      service('web', { namespace: 'shop', ports: [{ port: 8081, targetPort: 'http' }] }),
      pod('a'),
      pod('b', { namespace: 'shop', ip: '127.0.0.13' }),
    ]);
    await controller.runOnce(T0);
    expect((await client.get('Endpoints', 'default', 'web'))!.subsets![0].addresses!.map((a) => a.targetRef!.name)).toEqual(['a']);
    expect((await client.get('Endpoints', 'shop', 'web'))!.subsets![0].addresses!.map((a) => a.targetRef!.name)).toEqual(['b']);
  });
});
