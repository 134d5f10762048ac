// The shared Service port rules (service-ports.ts) and MemoryClient applying them the way
// the master's ResourceStore does (packages/master/test/service-ports.test.ts).
import { describe, expect, it } from 'vitest';
import { ApiError, type Service } from '@bramble/api';
import { allocateNodePorts, MemoryClient, planServicePorts, servicePortClaims, withAllocatedNodePorts } from '../src/index.js';

function service(name: string, ports: Service['spec']['ports'], type?: 'NodePort'): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid: `uid-${name}` }, spec: { ...(type ? { type } : {}), selector: { app: name }, ports } };
}

describe('service port rules', () => {
  it('claims: every port and nodePort with its field', () => {
    expect(servicePortClaims(service('a', [{ name: 'x', port: 80, nodePort: 30080 }, { name: 'y', port: 81 }], 'NodePort'))).toEqual([
      { port: 80, path: ['spec', 'ports', 0, 'port'] },
      { port: 30080, path: ['spec', 'ports', 0, 'nodePort'] },
      { port: 81, path: ['spec', 'ports', 1, 'port'] },
    ]);
  });

  it('plans claims and releases; a port owned by another Service is Invalid', () => {
    const owners = new Map([[81, { namespace: 'default', name: 'a', uid: 'uid-a' }], [90, { namespace: 'default', name: 'b', uid: 'uid-b' }]]);
    const before = service('a', [{ port: 81 }]);
    expect(planServicePorts(before, service('a', [{ port: 82 }]), (p) => owners.get(p))).toEqual({ claim: [82], release: [81] });
    expect(planServicePorts(before, service('a', [{ port: 81 }]), (p) => owners.get(p))).toEqual({ claim: [], release: [] });
    expect(planServicePorts(before, undefined, (p) => owners.get(p))).toEqual({ claim: [], release: [81] });
    expect(() => planServicePorts(before, service('a', [{ port: 90 }]), (p) => owners.get(p))).toThrow(/spec\.ports\[0\]\.port: Invalid value: 90: provided port is already allocated/);
    // Same name, other uid (a new Service of an old name): not the owner.
    expect(() => planServicePorts(undefined, { ...service('b', [{ port: 90 }]), metadata: { name: 'b', namespace: 'default', uid: 'new' } }, (p) => owners.get(p))).toThrow(ApiError);
  });

  it('keeps allocated nodePorts only for a NodePort Service, and allocates the rest by scanning from the random start', () => {
    const stored = service('a', [{ port: 80, nodePort: 30100 }], 'NodePort');
    expect(withAllocatedNodePorts(stored, service('a', [{ port: 80 }], 'NodePort')).spec.ports[0].nodePort).toBe(30100);
    expect(withAllocatedNodePorts(stored, service('a', [{ port: 80 }])).spec.ports[0].nodePort).toBeUndefined();
    const fresh = service('b', [{ name: 'x', port: 80 }, { name: 'y', port: 81 }], 'NodePort');
    allocateNodePorts(fresh, (p) => p !== 32767, () => 0.99999);
    expect(fresh.spec.ports.map((p) => p.nodePort)).toEqual([30000, 30001]); // 32767 taken: wraps around
    const full = service('c', [{ port: 80 }], 'NodePort');
    expect(() => allocateNodePorts(full, () => false, () => 0)).toThrow(/no free port left in the range 30000-32767/);
  });
});

describe('MemoryClient service ports', () => {
  it('reserves, allocates, refuses taken ports without storing, keeps nodePorts on update, releases on delete', async () => {
    const client = new MemoryClient();
    const web = await client.create(service('web', [{ port: 8080 }], 'NodePort'));
    expect(web.spec.ports[0].nodePort).toBeGreaterThanOrEqual(30000);
    await expect(client.create(service('other', [{ port: 8080 }]))).rejects.toThrow('Service "other" is invalid: spec.ports[0].port: Invalid value: 8080: provided port is already allocated');
    expect(await client.get('Service', 'default', 'other')).toBeUndefined();
    const updated = await client.update({ ...web, spec: { ...web.spec, ports: [{ port: 8080 }] } });
    expect(updated.spec.ports[0].nodePort).toBe(web.spec.ports[0].nodePort);
    await client.delete('Service', 'default', 'web');
    const reused = await client.create(service('other', [{ port: 8080, nodePort: web.spec.ports[0].nodePort }], 'NodePort'));
    expect(reused.spec.ports[0].nodePort).toBe(web.spec.ports[0].nodePort);
  });
});
