// <NAME>_SERVICE_HOST / _PORT env: the variables, their place before the container's own env,
// and the agent handing them to pods started after the Service (from a List, or from a
// watch-fed service source once it has synced).
import type { Pod, Service } from '@bramble/api';
import { waitFor } from '@bramble/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { resolvePodEnv } from '../src/pod-env.js';
import { serviceEnv, serviceEnvName, type ServiceSource } from '../src/service-env.js';
import { ADDRESS, cleanup, harness, type Harness } from './agent-harness.js';
import { boundPod } from './fakes.js';

afterEach(cleanup);

function service(name: string, ports: Service['spec']['ports'], namespace = 'default'): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { selector: { app: name }, ports } };
}

function envOf(list: Array<{ name: string; value: string }>): Record<string, string> {
  return Object.fromEntries(list.map((e) => [e.name, e.value]));
}

describe('serviceEnv', () => {
  it('names: upper case, - -> _', () => {
    expect(serviceEnvName('redis-master')).toBe('REDIS_MASTER');
  });

  it('host = the node address, port = the first port, one variable per named port, plus Docker links', () => {
    const env = envOf(serviceEnv([service('redis-master', [{ name: 'redis', port: 6379, protocol: 'TCP' }, { name: 'metrics-http', port: 9121 }])], '127.0.0.12'));
    expect(env).toEqual({
      REDIS_MASTER_SERVICE_HOST: '127.0.0.12',
      REDIS_MASTER_SERVICE_PORT: '6379',
      REDIS_MASTER_SERVICE_PORT_REDIS: '6379',
      REDIS_MASTER_SERVICE_PORT_METRICS_HTTP: '9121',
      REDIS_MASTER_PORT: 'tcp://127.0.0.12:6379',
      REDIS_MASTER_PORT_6379_TCP: 'tcp://127.0.0.12:6379',
      REDIS_MASTER_PORT_6379_TCP_PROTO: 'tcp',
      REDIS_MASTER_PORT_6379_TCP_PORT: '6379',
      REDIS_MASTER_PORT_6379_TCP_ADDR: '127.0.0.12',
      REDIS_MASTER_PORT_9121_TCP: 'tcp://127.0.0.12:9121',
      REDIS_MASTER_PORT_9121_TCP_PROTO: 'tcp',
      REDIS_MASTER_PORT_9121_TCP_PORT: '9121',
      REDIS_MASTER_PORT_9121_TCP_ADDR: '127.0.0.12',
    });
  });

  it('comes before the container env in resolvePodEnv, so an explicit env var wins', () => {
    const pod = boundPod('web', 'node1', {
      containers: [{ name: 'main', command: ['x'], env: [{ name: 'DB_SERVICE_PORT', value: '1' }] }],
    }) as Pod;
    const resolved = resolvePodEnv(pod, { configMaps: new Map(), secrets: new Map(), services: [service('db', [{ port: 5432 }])] }, { address: '127.0.0.11' });
    const names = resolved.main.map((e) => e.name);
    expect(names.indexOf('DB_SERVICE_HOST')).toBeLessThan(names.lastIndexOf('DB_SERVICE_PORT'));
    // The runtime builds the environment in order: the last DB_SERVICE_PORT wins.
    expect(envOf(resolved.main).DB_SERVICE_PORT).toBe('1');
    expect(envOf(resolved.main).DB_SERVICE_HOST).toBe('127.0.0.11');
  });
});

describe('agent: service env in pods', () => {
  function syncedEnv(h: Harness, name: string): Record<string, string> | undefined {
    const sync = h.runtime.synced.find((s) => s.pod.metadata.name === name);
    return sync ? envOf(sync.resolvedEnv.main) : undefined;
  }

  it('lists the Services of the pod namespace when the pod starts (no service source)', async () => {
    const h = await harness();
    h.resources.put(service('redis-master', [{ port: 6379 }]));
    h.resources.put(service('elsewhere', [{ port: 7000 }], 'shop'));
    await h.start();
    h.resources.put(boundPod('replica', 'node1', { containers: [{ name: 'main', command: ['redis-server', '--replicaof', '$(REDIS_MASTER_SERVICE_HOST)', '$(REDIS_MASTER_SERVICE_PORT)'] }] }));
    const env = await waitFor('the pod handed to the runtime', () => syncedEnv(h, 'replica'));
    expect(env.REDIS_MASTER_SERVICE_HOST).toBe(ADDRESS);
    expect(env.REDIS_MASTER_SERVICE_PORT).toBe('6379');
    expect(env.ELSEWHERE_SERVICE_HOST).toBeUndefined();
  });

  it('uses a synced service source without a List, and only Services that exist at start', async () => {
    const h = await harness();
    const agent = await h.start();
    const services: Service[] = [service('db', [{ port: 5432 }])];
    const source: ServiceSource = { synced: true, servicesInNamespace: (ns) => services.filter((s) => s.metadata.namespace === ns) };
    agent.pods.setServiceSource(source);
    const listsBefore = h.resources.calls.filter((c) => c.op === 'list' && c.args[0] === 'Service').length;
    h.resources.put(boundPod('first', 'node1', { containers: [{ name: 'main', command: ['x'] }] }));
    const first = await waitFor('first pod synced', () => syncedEnv(h, 'first'));
    expect(first.DB_SERVICE_HOST).toBe(ADDRESS);
    expect(first.CACHE_SERVICE_HOST).toBeUndefined();
    services.push(service('cache', [{ port: 11211 }]));
    h.resources.put(boundPod('second', 'node1', { containers: [{ name: 'main', command: ['x'] }] }));
    const second = await waitFor('second pod synced', () => syncedEnv(h, 'second'));
    expect(second.CACHE_SERVICE_PORT).toBe('11211');
    expect(h.resources.calls.filter((c) => c.op === 'list' && c.args[0] === 'Service').length).toBe(listsBefore);
  });
});
