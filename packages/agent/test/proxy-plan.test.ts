// The proxy's pure decisions: which node ports serve which service port, and which endpoints.
import type { Endpoints } from '@bramble/api';
import { describe, expect, it } from 'vitest';
import { backendsFor, listenPlan } from '../src/proxy/plan.js';
import { service } from './proxy-helpers.js';

describe('listenPlan', () => {
  it('listens on every TCP port of ClusterIP and NodePort services, and on nodePorts', () => {
    const plan = listenPlan([
      service('db', [{ port: 6379 }]),
      service('web', [{ name: 'http', port: 8080, nodePort: 30080 }, { name: 'metrics', port: 9090, nodePort: 30090 }], 'NodePort'),
      service('dns', [{ name: 'udp', port: 5353, protocol: 'UDP' }]),
    ]);
    expect([...plan.listeners.keys()].sort((a, b) => a - b)).toEqual([6379, 8080, 9090, 30080, 30090]);
    expect(plan.listeners.get(30080)).toMatchObject({ key: 'default/web:http', via: 'nodePort', port: 8080 });
    expect(plan.listeners.get(8080)).toMatchObject({ key: 'default/web:http', via: 'port' });
    expect(plan.listeners.get(6379)).toMatchObject({ key: 'default/db:', service: 'default/db', portName: '' });
    expect(plan.conflicts).toEqual([]);
  });

  it('skips headless services and nodePorts of ClusterIP services', () => {
    const headless = service('headless', [{ port: 7000 }]);
    headless.spec.clusterIP = 'None';
    const plan = listenPlan([headless, service('plain', [{ port: 7001, nodePort: 30001 }])]);
    expect([...plan.listeners.keys()]).toEqual([7001]);
  });

  it('gives a port claimed twice to the older service and reports the conflict', () => {
    const plan = listenPlan([service('newer', [{ port: 8080 }], 'ClusterIP', '2024-02-01T00:00:00Z'), service('older', [{ port: 8080 }], 'ClusterIP', '2024-01-01T00:00:00Z')]);
    expect(plan.listeners.get(8080)?.service).toBe('default/older');
    expect(plan.conflicts).toEqual(['port 8080: default/older keeps it, default/newer also claims it']);
  });
});

describe('backendsFor', () => {
  const ep: Endpoints = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'web', namespace: 'default' },
    subsets: [
      {
        addresses: [{ ip: '127.0.0.11', nodeName: 'node1' }, { ip: '127.0.0.12' }],
        notReadyAddresses: [{ ip: '127.0.0.13' }],
        ports: [
          { name: 'http', port: 41000, protocol: 'TCP' },
          { name: 'metrics', port: 41001, protocol: 'TCP' },
        ],
      },
      { addresses: [{ ip: '127.0.0.13' }], ports: [{ name: 'http', port: 42000 }] },
    ],
  };

  it('takes ready addresses at the port of the same name, across subsets', () => {
    expect(backendsFor({ portName: 'http' }, ep).map((b) => b.key)).toEqual(['127.0.0.11:41000', '127.0.0.12:41000', '127.0.0.13:42000']);
    expect(backendsFor({ portName: 'metrics' }, ep).map((b) => b.key)).toEqual(['127.0.0.11:41001', '127.0.0.12:41001']);
    expect(backendsFor({ portName: 'other' }, ep)).toEqual([]);
    expect(backendsFor({ portName: 'http' }, undefined)).toEqual([]);
  });

  it('lets an unnamed service port use a subset with a single port', () => {
    const single: Endpoints = { ...ep, subsets: [{ addresses: [{ ip: '127.0.0.11' }], ports: [{ name: 'http', port: 41000 }] }] };
    expect(backendsFor({ portName: '' }, single)).toEqual([{ host: '127.0.0.11', port: 41000, key: '127.0.0.11:41000' }]);
    // The first subset has two ports and none unnamed (ambiguous): only the single-port subset serves.
    expect(backendsFor({ portName: '' }, ep).map((b) => b.key)).toEqual(['127.0.0.13:42000']);
  });
});
