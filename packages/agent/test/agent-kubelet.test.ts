// The agent's Kubelet gRPC service (logs, stats) and its /healthz and /metrics.
import { KubeletClient, isBrambleError } from '@bramble/client';
import { freePort, waitFor } from '@bramble/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { ADDRESS, cleanup, harness } from './agent-harness.js';
import { boundPod } from './fakes.js';

const clients: KubeletClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await cleanup();
});

function kubelet(port: number): KubeletClient {
  const c = new KubeletClient(`${ADDRESS}:${port}`, { timeoutMs: 5_000 });
  clients.push(c);
  return c;
}

async function logsOf(c: KubeletClient, req: Parameters<KubeletClient['logs']>[0]): Promise<string> {
  const chunks: Buffer[] = [];
  await c.logs(req, (d) => chunks.push(d)).done;
  return Buffer.concat(chunks).toString('utf8');
}

describe('Kubelet service', () => {
  it('streams a container log and says NOT_FOUND for unknown pods and containers', async () => {
    const h = await harness();
    const agent = await h.start();
    const pod = h.resources.put(boundPod('web', 'node1'));
    const two = h.resources.put(
      boundPod('two', 'node1', {
        containers: [
          { name: 'a', command: ['x'] },
          { name: 'b', command: ['y'] },
        ],
      }),
    );
    await waitFor('both pods synced', () => h.runtime.synced.length === 2);
    h.runtime.logText.set(`${pod.metadata.uid}/main`, 'hello from web\n');
    h.runtime.logText.set(`${two.metadata.uid}/b`, 'from b\n');
    const c = kubelet(agent.kubeletPort);

    expect(await logsOf(c, { namespace: 'default', pod: 'web' })).toBe('hello from web\n');
    expect(await logsOf(c, { namespace: 'default', pod: 'two', container: 'b' })).toBe('from b\n');

    const missingPod = await logsOf(c, { namespace: 'default', pod: 'nope' }).catch((e: unknown) => e);
    expect(isBrambleError(missingPod) && missingPod.code).toBe('NOT_FOUND');
    expect((missingPod as Error).message).toContain('pod "default/nope" not found on node node1');

    const missingContainer = await logsOf(c, { namespace: 'default', pod: 'web', container: 'sidecar' }).catch((e: unknown) => e);
    expect(isBrambleError(missingContainer) && missingContainer.code).toBe('NOT_FOUND');
    expect((missingContainer as Error).message).toContain('container "sidecar" not found in pod "default/web"');

    const ambiguous = await logsOf(c, { namespace: 'default', pod: 'two' }).catch((e: unknown) => e);
    expect(isBrambleError(ambiguous) && ambiguous.code).toBe('INVALID_ARGUMENT');
    expect((ambiguous as Error).message).toContain('choose one of: a, b');

    // The runtime has no log for container a yet.
    const noLog = await logsOf(c, { namespace: 'default', pod: 'two', container: 'a' }).catch((e: unknown) => e);
    expect(isBrambleError(noLog) && noLog.code).toBe('NOT_FOUND');
  });

  it('reports node, agent and per-pod usage', async () => {
    const h = await harness();
    const agent = await h.start();
    h.runtime.usage = () => [
      { uid: 'u1', namespace: 'default', name: 'web', containers: [{ name: 'main', memoryBytes: 1000, cpuMillicores: 5 }] },
      { uid: 'u2', namespace: 'kube-system', name: 'proxy', containers: [{ name: 'p', memoryBytes: 500, cpuMillicores: 1 }] },
    ];
    const stats = await kubelet(agent.kubeletPort).stats();
    expect(stats.nodeName).toBe('node1');
    expect(stats.agentMemoryBytes).toBeGreaterThan(10_000_000);
    expect(stats.memoryBytes).toBe(stats.agentMemoryBytes + 1500);
    expect(stats.cpuMillicores).toBeGreaterThanOrEqual(6);
    expect(stats.pods).toEqual([
      { namespace: 'default', name: 'web', containers: [{ name: 'main', memoryBytes: 1000, cpuMillicores: 5 }] },
      { namespace: 'kube-system', name: 'proxy', containers: [{ name: 'p', memoryBytes: 500, cpuMillicores: 1 }] },
    ]);
  });
});

describe('agent HTTP', () => {
  it('serves /healthz and /metrics', async () => {
    const h = await harness();
    const http = `127.0.0.1:${await freePort()}`;
    await h.start({ http });
    h.resources.put(boundPod('web', 'node1'));
    await waitFor('the pod Running in the API', () => h.resources.peek('Pod', 'default', 'web')?.status?.phase === 'Running');
    const health = await fetch(`http://${http}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok\n');
    await waitFor('a heartbeat to every master', () => h.masterNodes.every((n) => n.heartbeats.length > 0));
    const text = await (await fetch(`http://${http}/metrics`)).text();
    expect(text).toMatch(/^bramble_agent_pods_running 1$/m);
    expect(text).toMatch(/^bramble_agent_heartbeats_total\{master="127\.0\.0\.1:1"\} \d+$/m);
    expect(text).toMatch(/^bramble_agent_pod_start_seconds_count 1$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect((await fetch(`http://${http}/nope`)).status).toBe(404);
  });
});
