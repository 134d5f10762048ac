// The proxy as the agent runs it (in-process, fake masters): on by default and fed by the
// agent's Service/Endpoints watches; `proxy: false` runs only the Service cache (service env).
import { waitFor } from '@bramble/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, harness } from './agent-harness.js';
import { closeAll, deadPort, endpoints, greeting, namedServer, service } from './proxy-helpers.js';

afterEach(async () => {
  await cleanup();
  await closeAll();
});

describe('agent service proxy', () => {
  it('serves a Service from the API on the node address once the agent has joined', async () => {
    const h = await harness();
    const pod = await namedServer('pod-a');
    const port = await deadPort();
    h.resources.put(service('web', [{ port }]));
    h.resources.put(endpoints('web', [pod.port]));
    const agent = await h.start({ proxyDrainTimeoutMs: 1_000 });
    expect(agent.proxy).toBeDefined();
    await waitFor('the proxy to listen', () => agent.proxy!.listeningPorts().includes(port), 5_000);
    await waitFor('the endpoint', () => agent.proxy!.backendsOf('default/web:').length === 1, 5_000);
    expect((await greeting(port)).name).toBe('pod-a');
    expect(agent.metrics.render({ podsRunning: 0, podsKnown: 0 })).toContain('bramble_proxy_connections_total{service="default/web"} 1');

    // A change through the API reaches the proxy.
    const other = await namedServer('pod-b');
    h.resources.put(endpoints('web', [other.port]));
    await waitFor('the new endpoint', () => agent.proxy!.backendsOf('default/web:')[0]?.port === other.port, 5_000);
    expect((await greeting(port)).name).toBe('pod-b');
    expect(agent.services.servicesInNamespace('default').map((s) => s.metadata.name)).toEqual(['web']);

    await agent.stop();
    expect(h.resources.openWatches).toBe(0);
  });

  it('with proxy: false listens on nothing and watches Services but not Endpoints', async () => {
    const h = await harness();
    const port = await deadPort();
    h.resources.put(service('web', [{ port }]));
    const agent = await h.start({ proxy: false });
    expect(agent.proxy).toBeUndefined();
    await waitFor('the Service cache to sync', () => agent.services.synced, 5_000);
    expect(agent.services.servicesInNamespace('default').map((s) => s.metadata.name)).toEqual(['web']);
    const kinds = h.resources.callsOf('watch').map((a) => a[0]);
    expect(kinds).toContain('Service');
    expect(kinds).not.toContain('Endpoints');
  });
});
