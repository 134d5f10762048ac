// End to end in one process: three real masters, one agent with the real ProcessRuntime,
// a Pod with an HTTP server run to Running, answering, and deleted.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pod } from '@bramble/api';
import { BrambleClient, KubeletClient } from '@bramble/client';
import { startMaster, type Master } from '@bramble/master';
import { freePort, waitFor } from '@bramble/testkit';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type Agent } from '../src/index.js';

const HELLO = fileURLToPath(new URL('./fixtures/hello-server.mjs', import.meta.url));
const TOKEN = 'abcdef.0123456789abcdef';
const ADDRESS = '127.0.0.1';

const stops: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await Promise.resolve(stop()).catch(() => undefined);
});

async function startMasters(dir: string): Promise<{ endpoints: string[]; masters: Master[] }> {
  const peers: Record<string, string> = {};
  for (let i = 1; i <= 3; i++) peers[`m${i}`] = `127.0.0.1:${await freePort()}`;
  const masters: Master[] = [];
  for (const [name, listen] of Object.entries(peers)) {
    const m = await startMaster({ name, listen, peers, dataDir: join(dir, name), tickMs: 20, joinToken: TOKEN }, pino({ level: 'silent' }));
    masters.push(m);
    stops.push(() => m.stop());
  }
  await waitFor('a leader running the controllers', () => masters.find((m) => m.host.isLeader && m.nodes.controllers.active), 15_000);
  return { endpoints: Object.values(peers), masters };
}

describe('agent end to end', () => {
  it('joins real masters, runs a pod to Running with the real runtime, and deletes it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bramble-agent-e2e-'));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    const { endpoints } = await startMasters(dir);
    const client = new BrambleClient({ endpoints, requestTimeoutMs: 5_000 });
    stops.push(() => client.close());
    await waitFor('the join token stored', async () => (await client.tokens.list()).some((t) => t.id === 'abcdef'));

    const agent: Agent = await startAgent(
      { name: 'node1', address: ADDRESS, masters: endpoints, joinToken: TOKEN, dataDir: join(dir, 'agent'), port: 0, heartbeatIntervalMs: 200 },
      { logger: pino({ level: 'silent' }) },
    );
    let agentStopped = false;
    const killPods = async (): Promise<void> => {
      // Whatever the outcome, no pod process outlives the test.
      for (const uid of agent.runtime.knownPods()) await agent.runtime.killPod(uid, 0);
    };
    stops.push(async () => {
      await killPods();
      if (!agentStopped) await agent.stop();
    });

    const node = await waitFor('node1 Ready', async () => {
      const n = await client.resources.get('Node', undefined, 'node1');
      return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? n : undefined;
    });
    expect(node.status?.daemonEndpoints?.kubeletEndpoint?.Port).toBe(agent.kubeletPort);

    const created = await client.resources.create<Pod>({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'hello', namespace: 'default' },
      spec: {
        nodeName: 'node1',
        terminationGracePeriodSeconds: 5,
        containers: [
          {
            name: 'web',
            command: [process.execPath, HELLO],
            ports: [{ name: 'http', containerPort: 8080 }],
            env: [
              { name: 'GREETING', value: 'hello' },
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            ],
          },
        ],
      },
    });
    const createdAtMs = Date.now();
    const runningPod = await waitFor(
      'the pod Running',
      async () => {
        const p = await client.resources.get('Pod', 'default', 'hello');
        return p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.state?.running ? p : undefined;
      },
      15_000,
    );
    console.log(`pod Running ${Date.now() - createdAtMs} ms after create`);
    expect(runningPod.metadata.uid).toBe(created.metadata.uid);
    expect(runningPod.status?.podIP).toBe(ADDRESS);
    expect(runningPod.status?.hostIP).toBe(ADDRESS);
    const hostPort = runningPod.status?.containerStatuses?.[0].ports?.[0]?.hostPort;
    expect(hostPort).toBeGreaterThan(0);

    const body = await waitFor('the pod answering', async () => {
      const res = await fetch(`http://${ADDRESS}:${hostPort}/`);
      return res.ok ? res.text() : undefined;
    });
    expect(body).toBe('hello from hello\n');

    // Logs through the Kubelet service, as `bramble logs` reads them.
    const kubelet = new KubeletClient(`${ADDRESS}:${agent.kubeletPort}`);
    stops.push(() => kubelet.close());
    const log = await waitFor('the log line', async () => {
      const chunks: Buffer[] = [];
      await kubelet.logs({ namespace: 'default', pod: 'hello' }, (d) => chunks.push(d)).done;
      const text = Buffer.concat(chunks).toString();
      return text.includes('listening on') ? text : undefined;
    });
    expect(log).toContain(`listening on ${ADDRESS}:${hostPort}`);
    const stats = await kubelet.stats();
    expect(stats.pods.map((p) => p.name)).toEqual(['hello']);

    await client.resources.delete('Pod', 'default', 'hello');
    await waitFor(
      'the pod gone from the API',
      async () => {
        try {
          await client.resources.get('Pod', 'default', 'hello');
          return false;
        } catch (err) {
          return (err as { code?: string }).code === 'NotFound';
        }
      },
      15_000,
    );
    expect(agent.runtime.knownPods()).toEqual([]);
    await expect(fetch(`http://${ADDRESS}:${hostPort}/`)).rejects.toThrow();

    await agent.stop();
    agentStopped = true;
  });
});
