// The service cache against a fake API (list, watch, expiry, outages), and the proxy's
// rate-limited FailedToListen events.
import type { Service } from '@bramble/api';
import { waitFor } from '@bramble/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { EventRecorder } from '../src/events.js';
import { AgentMetrics } from '../src/metrics.js';
import { ProxyEventRecorder } from '../src/proxy/events.js';
import { ServiceCache } from '../src/proxy/service-cache.js';
import { FakeResources } from './fakes.js';
import { endpoints, service, silent } from './proxy-helpers.js';

const caches: ServiceCache[] = [];
afterEach(async () => {
  for (const c of caches.splice(0)) await c.stop();
});

function inNamespace(name: string, namespace: string, port: number): Service {
  const s = service(name, [{ port }]);
  s.metadata.namespace = namespace;
  return s;
}

function startCache(resources: FakeResources, endpointsToo = true): ServiceCache {
  const cache = new ServiceCache({ resources, logger: silent, endpoints: endpointsToo, retryInitialMs: 10, retryMaxMs: 20 });
  caches.push(cache);
  cache.start();
  return cache;
}

const names = (services: Service[]) => services.map((s) => s.metadata.name);

describe('ServiceCache', () => {
  it('lists Services and Endpoints of every namespace, then follows the watch', async () => {
    const api = new FakeResources();
    api.put(inNamespace('redis', 'default', 6379));
    api.put(inNamespace('api', 'default', 8080));
    api.put(inNamespace('other', 'shop', 9000));
    api.put(endpoints('redis', [41000]));
    const cache = startCache(api);
    expect(await cache.whenSynced(5_000)).toBe(true);
    expect(names(cache.servicesInNamespace('default'))).toEqual(['api', 'redis']);
    expect(names(cache.servicesInNamespace('shop'))).toEqual(['other']);
    expect(cache.endpoints('default', 'redis')?.subsets?.[0].ports?.[0].port).toBe(41000);

    let changes = 0;
    cache.onChange(() => changes++);
    api.put(inNamespace('web', 'default', 8081));
    api.put(endpoints('redis', [42000]));
    api.forceRemove('Service', 'default', 'api');
    expect(names(cache.servicesInNamespace('default'))).toEqual(['redis', 'web']);
    expect(cache.endpoints('default', 'redis')?.subsets?.[0].ports?.[0].port).toBe(42000);
    expect(changes).toBe(3);
  });

  it('re-lists after the watch expires (objects deleted meanwhile are dropped) and resumes after an outage', async () => {
    const api = new FakeResources();
    api.put(inNamespace('a', 'default', 7001));
    api.put(inNamespace('b', 'default', 7002));
    const cache = startCache(api, false);
    await cache.whenSynced(5_000);
    expect(names(cache.services())).toEqual(['a', 'b']);

    api.forceRemove('Service', 'default', 'b', false); // missed by the watch
    api.put(inNamespace('c', 'default', 7003));
    api.expireWatches();
    await waitFor('the re-list', () => names(cache.servicesInNamespace('default')).join() === 'a,c');

    api.setReachable(false);
    expect(names(cache.services()).sort()).toEqual(['a', 'c']); // the last known set is kept
    api.setReachable(true);
    await waitFor('the watch to be back', () => api.openWatches === 1, 5_000);
    api.put(inNamespace('d', 'default', 7004));
    await waitFor('the new service', () => cache.service('default', 'd'));
  });

  it('whenSynced gives up after its timeout while the masters are away', async () => {
    const api = new FakeResources();
    api.setReachable(false);
    const cache = startCache(api);
    expect(cache.synced).toBe(false);
    expect(await cache.whenSynced(50)).toBe(false);
  });
});

describe('ProxyEventRecorder', () => {
  it('records FailedToListen on the Service at most once a minute per port', async () => {
    const api = new FakeResources();
    let now = 1_000_000;
    const recorder = new ProxyEventRecorder({ events: new EventRecorder(api, 'node1', silent, new AgentMetrics()), nodeName: 'node1', now: () => now });
    const target = { key: 'default/web:', service: 'default/web', namespace: 'default', name: 'web', uid: 'uid-web', portName: '', port: 8080 };
    const err = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.11:8080'), { code: 'EADDRINUSE' });
    recorder.failedToListen(target, '127.0.0.11', 8080, err);
    now += 10_000;
    recorder.failedToListen(target, '127.0.0.11', 8080, err);
    recorder.failedToListen(target, '127.0.0.11', 30080, err); // another port: its own budget
    now += 50_000;
    recorder.failedToListen(target, '127.0.0.11', 8080, err);
    await waitFor('3 events recorded', () => api.events.length === 3);
    expect(api.events[0]).toMatchObject({
      involvedObject: { kind: 'Service', namespace: 'default', name: 'web', uid: 'uid-web' },
      type: 'Warning',
      reason: 'FailedToListen',
      component: 'bramble-proxy',
    });
    expect(api.events[0].message).toContain('cannot listen on 127.0.0.11:8080 (EADDRINUSE)');
    expect(api.events.map((e) => e.message.includes(':30080'))).toEqual([false, true, false]);
  });
});
