// The agents' service proxy on real processes: 3 masters, 3 agents (node1-3, each on its own loopback address), a
// Deployment of 3 hello servers behind a Service. Issue 6 item 2: every node's proxy serves
// the service port and balances over all 3 pods; a killed pod process never fails a new
// connection (the proxy fails over on a refused connect); a NodePort works on every node;
// deleting the Service closes its port everywhere.
import type { Deployment, Endpoints, Service } from '@bramble/api';
import { NODE_PORT_MAX, NODE_PORT_MIN } from '@bramble/api';
import { OrchestratorCluster, freePort, waitFor } from '@bramble/testkit';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helloDeployment, pidOf, waitForRunning } from './helpers.js';

const APP = 'px';

interface Reply {
  status: number;
  pod: string;
}

/** One GET on a fresh connection (no keep-alive: each request is a new proxied connection). */
function get(host: string, port: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, pod: (JSON.parse(body) as { pod: string }).pod });
        } catch (err) {
          reject(new Error(`GET http://${host}:${port}/: bad body ${JSON.stringify(body)} (${(err as Error).message})`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}/ timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function bindable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** A port free on every node address right now (service ports are cluster-wide). */
async function portFreeOn(hosts: string[]): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freePort(hosts[0]);
    if (port >= NODE_PORT_MIN && port <= NODE_PORT_MAX) continue; // keep clear of the nodePort range
    if ((await Promise.all(hosts.map((h) => bindable(h, port)))).every(Boolean)) return port;
  }
  throw new Error(`no port free on all of ${hosts.join(', ')}`);
}

function podDeployment(): Deployment {
  const d = helloDeployment(APP, 3);
  // The hello server replies with POD_NAME: the test sees which pod answered.
  d.spec.template.spec.containers[0].env = [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }];
  return d;
}

function helloService(name: string, port: number, type: 'ClusterIP' | 'NodePort' = 'ClusterIP'): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { type, selector: { app: APP }, ports: [{ name: 'http', port, targetPort: 'http' }] },
  };
}

function readyAddresses(ep: Endpoints | undefined): string[] {
  return (ep?.subsets ?? []).flatMap((s) => (s.addresses ?? []).flatMap((a) => (s.ports ?? []).map((p) => `${a.ip}:${p.port}`))).sort();
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('service proxy on a 3-master, 3-agent process cluster', () => {
  let cluster: OrchestratorCluster;
  let nodes: string[];
  let pods: string[];
  let port: number;

  const metricsAddress: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) metricsAddress.push(`127.0.0.${11 + i}:${await freePort(`127.0.0.${11 + i}`)}`);
    cluster = await OrchestratorCluster.start({ masters: 3, agents: 3, agentOptions: (i) => ({ extraArgs: ['--http', metricsAddress[i]] }) });
    nodes = [...cluster.agents.values()].map((a) => a.address);
    await cluster.resources().create(podDeployment());
    pods = (await waitForRunning(cluster, APP, 3, 40_000)).map((p) => p.metadata.name!).sort();
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
  }, 60_000);

  /** bramble_proxy_connect_failures_total of a service, summed over the agents' /metrics. */
  async function connectFailures(service: string): Promise<number> {
    let total = 0;
    for (const address of metricsAddress) {
      const text = await (await fetch(`http://${address}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`bramble_proxy_connect_failures_total{service="${service}"}`));
      total += line ? Number(line.split(' ').pop()) : 0;
    }
    return total;
  }

  /** Every node's proxy answers on `port` with one of the pods. */
  async function waitForServing(p: number): Promise<void> {
    for (const host of nodes) {
      await waitFor(`the proxy on ${host}:${p} to reach a pod`, async () => (await get(host, p)).status === 200, 20_000, 100);
    }
  }

  it('serves a ClusterIP service on every node address and balances over all 3 pods', async () => {
    port = await portFreeOn(nodes);
    await cluster.resources().create(helloService('px', port));
    await waitFor('Endpoints px to list the 3 ready pods', async () => readyAddresses(await cluster.resources().get('Endpoints', 'default', 'px').catch(() => undefined)).length === 3, 30_000, 100);
    await waitForServing(port);
    for (const host of nodes) {
      const seen = new Set<string>();
      // Round-robin: 3 endpoints, so 9 new connections see each pod 3 times (the endpoint set is stable now).
      const counts = new Map<string, number>();
      for (let i = 0; i < 9; i++) {
        const reply = await get(host, port);
        expect(reply.status).toBe(200);
        seen.add(reply.pod);
        counts.set(reply.pod, (counts.get(reply.pod) ?? 0) + 1);
      }
      expect([...seen].sort(), `pods reached through ${host}:${port}`).toEqual(pods);
      expect([...counts.values()], `per-pod counts through ${host}`).toEqual([3, 3, 3]);
    }
  }, 60_000);

  it('never fails a new connection when a pod process is killed (connect failover), while the endpoint leaves and returns', async () => {
    const failuresBefore = await connectFailures('default/px');
    const victim = (await cluster.resources().list('Pod', { namespace: 'default', labelSelector: `app=${APP}` })).items.find((p) => p.status?.phase === 'Running')!;
    const pid = pidOf(victim);
    const before = (victim.status!.containerStatuses![0].ports ?? []).map((p) => `${victim.status!.hostIP}:${p.hostPort}`);
    process.kill(pid, 'SIGKILL');
    await waitFor(`pod process ${pid} to be gone`, () => !isAlive(pid), 5_000, 10);
    // Right away, before any controller reacted: the dead endpoint refuses, the proxy tries the next.
    const failures: string[] = [];
    let requests = 0;
    const round = async (): Promise<void> => {
      // 3 in a row per node: with 3 endpoints each node's proxy picks every one of them once.
      for (const host of nodes) {
        for (let i = 0; i < 3; i++) {
          requests++;
          const reply = await get(host, port).catch((err: Error) => ({ status: 0, pod: err.message }));
          if (reply.status !== 200) failures.push(`${host}: ${reply.status} ${reply.pod}`);
        }
      }
    };
    const endpointsOf = async () => readyAddresses(await cluster.resources().get('Endpoints', 'default', 'px'));
    await round();
    // The proxies' view never runs ahead of the API: if Endpoints still lists the dead pod, every
    // node's proxy tried it during that round, and failed over.
    const listedAfterRound = await endpointsOf();
    if (before.every((a) => listedAfterRound.includes(a))) expect((await connectFailures('default/px')) - failuresBefore).toBeGreaterThanOrEqual(nodes.length);
    const hammer = async (until: () => Promise<boolean>): Promise<void> => {
      for (;;) {
        await round();
        if (await until()) return;
      }
    };
    let left = false;
    let back = false;
    const deadline = Date.now() + 45_000;
    await hammer(async () => {
      const ready = await endpointsOf();
      if (!before.every((a) => ready.includes(a)) || ready.length < 3) left = true;
      // Restarted (restartPolicy Always) and ready again: back in Endpoints.
      back = left && ready.length === 3;
      return (back && requests >= 30) || Date.now() > deadline;
    });
    expect(failures).toEqual([]);
    expect({ left, back }, 'the killed pod left Endpoints and came back').toEqual({ left: true, back: true });
    expect(requests).toBeGreaterThanOrEqual(30);
    // All three pods serve again through every node.
    for (const host of nodes) {
      const seen = new Set<string>();
      for (let i = 0; i < 9; i++) seen.add((await get(host, port)).pod);
      expect([...seen].sort()).toEqual(pods);
    }
  }, 90_000);

  it('serves a NodePort service on its allocated nodePort on every node', async () => {
    const created = await cluster.resources().create(helloService('px-np', await portFreeOn(nodes), 'NodePort'));
    const nodePort = created.spec.ports[0].nodePort!;
    expect(nodePort).toBeGreaterThanOrEqual(NODE_PORT_MIN);
    expect(nodePort).toBeLessThanOrEqual(NODE_PORT_MAX);
    await waitForServing(nodePort);
    for (const host of nodes) {
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) seen.add((await get(host, nodePort)).pod);
      expect([...seen].sort(), `pods reached through ${host}:${nodePort}`).toEqual(pods);
    }
  }, 60_000);

  it('closes the port on every node when the Service is deleted', async () => {
    await cluster.resources().delete('Service', 'default', 'px');
    for (const host of nodes) {
      await waitFor(`${host}:${port} to refuse connections`, async () => get(host, port).then(() => false, (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED'), 15_000, 100);
    }
  }, 30_000);
});
