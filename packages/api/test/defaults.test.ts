import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyDefaults, deepEqual, KINDS, parseManifests, validate } from '../src/index.js';
import { deployment, fixture, pod, service } from './helpers.js';

describe('applyDefaults', () => {
  it('Deployment: replicas, strategy, history, deadline, pod template', () => {
    const d = applyDefaults(deployment());
    expect(d.metadata.namespace).toBe('default');
    expect(d.spec).toMatchObject({
      replicas: 3, // the user's value is kept
      minReadySeconds: 0,
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
    });
    expect(d.spec.template.spec).toMatchObject({ restartPolicy: 'Always', terminationGracePeriodSeconds: 30 });
    expect(d.spec.template.spec.containers[0].ports[0].protocol).toBe('TCP');
    expect(d.spec.template.spec.containers[0].imagePullPolicy).toBeUndefined();
    const noReplicas = deployment();
    delete noReplicas.spec.replicas;
    expect(applyDefaults(noReplicas).spec.replicas).toBe(1);
  });

  it('Recreate gets no rollingUpdate; a partial rollingUpdate is completed', () => {
    const recreate = deployment();
    recreate.spec.strategy = { type: 'Recreate' };
    expect(applyDefaults(recreate).spec.strategy).toEqual({ type: 'Recreate' });
    const partial = deployment();
    partial.spec.strategy = { rollingUpdate: { maxSurge: 1 } };
    expect(applyDefaults(partial).spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: '25%' } });
  });

  it('probes, httpGet, resources requests from limits, volume modes', () => {
    const p = pod();
    p.spec.containers[0].livenessProbe = { httpGet: { port: 'http' } };
    p.spec.containers[0].readinessProbe = { tcpSocket: { port: 8080 }, periodSeconds: 2 };
    p.spec.containers[0].resources = { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m' } };
    p.spec.volumes = [{ name: 'c', configMap: { name: 'c' } }, { name: 's', secret: { secretName: 's', defaultMode: 0o400 } }];
    const out = applyDefaults(p);
    const c = out.spec.containers[0];
    expect(c.livenessProbe).toEqual({
      httpGet: { port: 'http', path: '/', scheme: 'HTTP' },
      periodSeconds: 10,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    });
    expect(c.readinessProbe.periodSeconds).toBe(2);
    expect(c.resources).toEqual({ limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m', memory: '128Mi' } });
    expect(out.spec.volumes[0].configMap.defaultMode).toBe(0o644);
    expect(out.spec.volumes[1].secret.defaultMode).toBe(0o400);
  });

  it('Service: type ClusterIP, protocol TCP, targetPort = port', () => {
    const s = service();
    s.spec.ports.push({ name: 'metrics', port: 9100 });
    s.spec.ports[0].name = 'http';
    const out = applyDefaults(s);
    expect(out.spec.type).toBe('ClusterIP');
    expect(out.spec.ports).toEqual([
      { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
      { name: 'metrics', port: 9100, targetPort: 9100, protocol: 'TCP' },
    ]);
  });

  it('Node: capacity of a Raspberry Pi 4, allocatable = capacity', () => {
    const bare = applyDefaults({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'pi-1' } });
    expect(bare).toEqual({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'pi-1' }, // cluster-scoped: no namespace
      status: { capacity: { cpu: '4', memory: '4Gi', pods: '110' }, allocatable: { cpu: '4', memory: '4Gi', pods: '110' } },
    });
    const big = applyDefaults({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'pi-5' }, status: { capacity: { memory: '8Gi' }, allocatable: { cpu: '3500m' } } });
    expect(big.status).toEqual({ capacity: { cpu: '4', memory: '8Gi', pods: '110' }, allocatable: { cpu: '3500m', memory: '8Gi', pods: '110' } });
  });

  it('Secret: type Opaque, stringData encoded into data (and winning over it)', () => {
    const out = applyDefaults({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { a: 'eA==', b: 'eA==' }, stringData: { b: 'héllo' } });
    expect(out).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: 'default' },
      type: 'Opaque',
      data: { a: 'eA==', b: Buffer.from('héllo').toString('base64') },
    });
  });

  it('DaemonSet, ReplicaSet, Namespace, Endpoints', () => {
    const ds = applyDefaults({ ...deployment(), kind: 'DaemonSet', spec: { ...deployment().spec, replicas: undefined } });
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
    expect(ds.spec.revisionHistoryLimit).toBe(10);
    const rs = applyDefaults({ ...deployment(), kind: 'ReplicaSet', spec: { ...deployment().spec, replicas: undefined } });
    expect(rs.spec.replicas).toBe(1);
    expect(rs.spec.template.spec.restartPolicy).toBe('Always');
    expect(applyDefaults({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } })).toEqual({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'x' },
      status: { phase: 'Active' },
    });
    const ep: any = applyDefaults({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'e' }, subsets: [{ ports: [{ port: 1 }] }] });
    expect(ep.subsets[0].ports[0].protocol).toBe('TCP');
  });

  it('does not modify its input, and leaves unknown kinds and non-objects alone', () => {
    const d = deployment();
    const before = structuredClone(d);
    applyDefaults(d);
    expect(d).toEqual(before);
    expect(applyDefaults({ kind: 'StatefulSet', spec: {} })).toEqual({ kind: 'StatefulSet', spec: {} });
    expect(applyDefaults('x')).toBe('x');
    expect(applyDefaults(null)).toBe(null);
  });

  it('defaulted fixtures stay valid', () => {
    for (const file of ['hello.yaml', 'kinds.yaml', 'todo/web.yaml', 'todo/secret.yaml']) {
      for (const obj of parseManifests(fixture(file), file, { defaults: true })) expect(validate(obj)).toEqual([]);
    }
  });
});

// ---- properties -----------------------------------------------------------

/** Arbitrary objects of each kind: the known shapes with random subsets of fields, and junk in random places. */
const junk = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 5 }), fc.constant([]), fc.constant({}));
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const probe = fc.record(
  {
    httpGet: maybe(fc.record({ port: fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.constant('http')), path: maybe(fc.constant('/x')) }, { requiredKeys: [] })),
    tcpSocket: maybe(fc.record({ port: fc.integer({ min: 1, max: 9 }) })),
    periodSeconds: maybe(fc.oneof(fc.integer({ min: 1, max: 60 }), junk)),
    failureThreshold: maybe(fc.integer({ min: 1, max: 5 })),
  },
  { requiredKeys: [] },
);
const container = fc.record(
  {
    name: fc.constantFrom('a', 'b'),
    command: fc.constant(['node']),
    ports: maybe(fc.array(fc.record({ containerPort: fc.integer({ min: 1, max: 65535 }), protocol: maybe(fc.constant('TCP')) }, { requiredKeys: ['containerPort'] }), { maxLength: 2 })),
    livenessProbe: maybe(fc.oneof(probe, junk)),
    readinessProbe: maybe(probe),
    resources: maybe(
      fc.record({ limits: maybe(fc.record({ cpu: maybe(fc.constantFrom('1', '500m')), memory: maybe(fc.constant('1Gi')) })), requests: maybe(fc.oneof(fc.record({ cpu: maybe(fc.constant('100m')) }), junk)) }, { requiredKeys: [] }),
    ),
  },
  { requiredKeys: ['name'] },
);
const podSpec = fc.record(
  {
    containers: fc.oneof(fc.array(fc.oneof(container, junk), { maxLength: 2 }), junk),
    restartPolicy: maybe(fc.constantFrom('Always', 'Never')),
    terminationGracePeriodSeconds: maybe(fc.integer({ min: 0, max: 100 })),
    volumes: maybe(fc.array(fc.record({ name: fc.constant('v'), configMap: maybe(fc.record({ name: fc.constant('c'), defaultMode: maybe(fc.constant(0o600)) }, { requiredKeys: ['name'] })) }), { maxLength: 2 })),
  },
  { requiredKeys: [] },
);
const template = fc.record({ metadata: maybe(fc.record({ labels: fc.constant({ app: 'x' }) })), spec: fc.oneof(podSpec, junk) }, { requiredKeys: [] });
const specFor = (kind: string): fc.Arbitrary<unknown> => {
  switch (kind) {
    case 'Pod':
      return podSpec;
    case 'Deployment':
      return fc.record(
        {
          replicas: maybe(fc.oneof(fc.integer({ min: 0, max: 9 }), junk)),
          template: maybe(template),
          strategy: maybe(fc.oneof(junk, fc.record({ type: maybe(fc.constantFrom('RollingUpdate', 'Recreate', 'X')), rollingUpdate: maybe(fc.oneof(junk, fc.record({ maxSurge: maybe(fc.constantFrom(0, 1, '50%')) }, { requiredKeys: [] }))) }, { requiredKeys: [] }))),
          revisionHistoryLimit: maybe(fc.integer({ min: 0, max: 5 })),
        },
        { requiredKeys: [] },
      );
    case 'ReplicaSet':
    case 'DaemonSet':
      return fc.record({ replicas: maybe(fc.integer({ min: 0, max: 9 })), template: maybe(template), updateStrategy: maybe(fc.oneof(junk, fc.record({ type: maybe(fc.constantFrom('OnDelete', 'RollingUpdate')) }, { requiredKeys: [] }))) }, { requiredKeys: [] });
    case 'Service':
      return fc.record({ type: maybe(fc.constantFrom('ClusterIP', 'NodePort')), ports: fc.oneof(fc.array(fc.oneof(fc.record({ port: fc.oneof(fc.integer({ min: 1, max: 65535 }), junk), targetPort: maybe(fc.constant('http')) }, { requiredKeys: [] }), junk), { maxLength: 3 }), junk) }, { requiredKeys: [] });
    default:
      return fc.oneof(junk, fc.record({ taints: maybe(fc.constant([])) }, { requiredKeys: [] }));
  }
};
const anyObject = fc.constantFrom(...KINDS.map((k) => k.kind)).chain((kind) =>
  fc.record(
    {
      apiVersion: fc.constant(KINDS.find((k) => k.kind === kind)!.apiVersion),
      kind: fc.constant(kind),
      metadata: fc.oneof(fc.record({ name: fc.constant('x'), namespace: maybe(fc.constantFrom('', 'ns')) }, { requiredKeys: ['name'] }), junk),
      spec: maybe(specFor(kind)),
      status: maybe(fc.oneof(junk, fc.record({ capacity: maybe(fc.oneof(junk, fc.record({ cpu: maybe(fc.constant('2')) }, { requiredKeys: [] }))) }, { requiredKeys: [] }))),
      data: maybe(fc.oneof(junk, fc.dictionary(fc.constantFrom('a', 'b'), fc.constant('eA==')))),
      stringData: maybe(fc.oneof(junk, fc.dictionary(fc.constantFrom('b', 'c'), fc.oneof(fc.string({ maxLength: 4 }), junk)))),
    },
    { requiredKeys: ['apiVersion', 'kind', 'metadata'] },
  ),
);

/** Every leaf path of a JSON value, with its value. */
function leaves(value: unknown, path: string[] = [], out: Array<[string[], unknown]> = []): Array<[string[], unknown]> {
  if (value !== null && typeof value === 'object' && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) if (v !== undefined) leaves(v, [...path, k], out);
  } else {
    out.push([path, value]);
  }
  return out;
}

function at(value: unknown, path: string[]): unknown {
  return path.reduce<unknown>((cur, k) => (cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined), value);
}

describe('applyDefaults properties', () => {
  it('is idempotent: applyDefaults(applyDefaults(x)) equals applyDefaults(x)', () => {
    fc.assert(
      fc.property(anyObject, (obj) => {
        const once = applyDefaults(obj);
        expect(applyDefaults(once)).toEqual(once);
      }),
      { numRuns: 2000 },
    );
  });

  it('never overwrites a value the user set (except Secret stringData, which moves into data)', () => {
    fc.assert(
      fc.property(anyObject, (obj) => {
        const out = applyDefaults(obj);
        for (const [path, value] of leaves(obj)) {
          if (obj.kind === 'Secret' && (path[0] === 'stringData' || path[0] === 'data')) continue;
          if (value === null) continue; // null means "not set", so a default may take its place
          if (value !== null && typeof value === 'object' && !Array.isArray(value)) continue; // {}: defaults may fill it in
          if (path[0] === 'metadata' && path[1] === 'namespace' && value === '') continue; // "" means "not set"
          expect(deepEqual(at(out, path), value), `${obj.kind} ${path.join('.')}`).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
