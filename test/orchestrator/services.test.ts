// Services on real processes (issue 6 item 2, master side): 3 masters, 2 agents.
// - The Endpoints controller lists a Service's ready pods at their node address and host
//   port; a pod whose readiness probe fails moves to notReadyAddresses, and back.
// - `bramble expose --type NodePort` creates a Service with a nodePort in 30000-32767;
//   a second Service asking for the same port is refused; `get svc` / `get ep` print them.
// - A pod started after a Service gets <NAME>_SERVICE_HOST/PORT (read back from its log
//   with `bramble logs`); one started before does not.
// - Deleting a Service deletes its Endpoints and frees its port.
// (Traffic through the agents' proxies is test/orchestrator/proxy.test.ts.)
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deployment, Endpoints, Pod, Service } from '@bramble/api';
import { freePort, OrchestratorCluster, waitFor } from '@bramble/testkit';
import { helloDeployment, podsOf, waitForRunning, runBramble, type CliResult } from './helpers.js';

/** Hello servers whose readiness is "no file <dir>/unready-<pod name>". */
function echoDeployment(name: string, replicas: number, markerDir: string): Deployment {
  const d = helloDeployment(name, replicas, { cpu: '50m' });
  const pod = d.spec.template.spec;
  pod.terminationGracePeriodSeconds = 2;
  pod.containers[0] = {
    ...pod.containers[0],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'MARKER_DIR', value: markerDir },
    ],
    readinessProbe: { exec: { command: ['sh', '-c', 'test ! -e "$MARKER_DIR/unready-$POD_NAME"'] }, periodSeconds: 1, failureThreshold: 1 },
  };
  return d;
}

/** A pod that prints its environment, then idles. */
function envPod(name: string): Pod {
  const script = "for (const [k, v] of Object.entries(process.env).sort()) console.log(`${k}=${v}`); setInterval(() => {}, 1 << 30);";
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { role: 'env-check' } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'main',
          command: [process.execPath, '-e', script],
          env: [{ name: 'LINK', value: '$(ENV_CHECK_SERVICE_HOST):$(ENV_CHECK_SERVICE_PORT)' }],
          resources: { requests: { cpu: '10m', memory: '16Mi' } },
        },
      ],
    },
  } as Pod;
}

function service(name: string, port: number, selector: Record<string, string>): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector, ports: [{ name: 'http', port, targetPort: 'http' }] } };
}

interface Listed {
  ip: string;
  port: number;
  nodeName?: string;
  pod?: string;
}

function listed(ep: Endpoints | undefined, which: 'addresses' | 'notReadyAddresses'): Listed[] {
  const out: Listed[] = [];
  for (const subset of ep?.subsets ?? []) {
    for (const a of subset[which] ?? []) for (const p of subset.ports ?? []) out.push({ ip: a.ip, port: p.port, nodeName: a.nodeName, pod: a.targetRef?.name });
  }
  return out.sort((a, b) => (a.pod ?? '').localeCompare(b.pod ?? ''));
}

/** What the Endpoints should say for these pods: node address, host port of `http`, node, name. */
function expected(pods: Pod[]): Listed[] {
  return pods
    .map((p) => ({
      ip: p.status!.hostIP!,
      port: p.status!.containerStatuses![0].ports!.find((x) => x.name === 'http')!.hostPort,
      nodeName: p.spec.nodeName,
      pod: p.metadata.name,
    }))
    .sort((a, b) => (a.pod ?? '').localeCompare(b.pod ?? ''));
}

function isReady(p: Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

describe('services, endpoints, expose and service env on a 3-master, 2-agent cluster', () => {
  let cluster: OrchestratorCluster;
  let home: string;
  let markers: string;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'bramble-services-'));
    markers = join(home, 'markers');
    await mkdir(markers);
    cluster = await OrchestratorCluster.start({ masters: 3, agents: 2 });
  }, 90_000);

  afterAll(async () => {
    await cluster?.destroy();
    if (home) await rm(home, { recursive: true, force: true });
  }, 60_000);

  function bramble(...args: string[]): Promise<CliResult> {
    return runBramble(cluster, home, ...args);
  }

  async function endpointsOf(name: string): Promise<Endpoints | undefined> {
    return cluster
      .resources()
      .get('Endpoints', 'default', name)
      .catch(() => undefined);
  }

  it('lists the ready pods at node address + host port, and moves a pod that turns unready to notReadyAddresses', async () => {
    const port = await freePort(cluster.agents.get('node1')!.address);
    await cluster.resources().create(echoDeployment('echo', 3, markers));
    await cluster.resources().create(service('echo', port, { app: 'echo' }));
    const pods = await waitForRunning(cluster, 'echo', 3, 40_000, (ps) => ps.every(isReady));
    const want = expected(pods);
    const ep = await waitFor('Endpoints echo to list the 3 ready pods', async () => {
      const e = await endpointsOf('echo');
      return JSON.stringify(listed(e, 'addresses')) === JSON.stringify(want) ? e : undefined;
    }, 20_000, 100);
    expect(listed(ep, 'notReadyAddresses')).toEqual([]);
    expect(new Set(want.map((w) => w.nodeName)).size).toBe(2); // both nodes serve
    // Every listed address really is that pod's server.
    for (const w of want) {
      const body = (await (await fetch(`http://${w.ip}:${w.port}/`)).json()) as { pod: string };
      expect(body.pod).toBe(w.pod);
    }

    const victim = want[0].pod!;
    const marker = join(markers, `unready-${victim}`);
    await writeFile(marker, '');
    const unready = await waitFor(`${victim} in notReadyAddresses only`, async () => {
      const e = await endpointsOf('echo');
      const ok = listed(e, 'notReadyAddresses').map((l) => l.pod).join() === victim && !listed(e, 'addresses').some((l) => l.pod === victim);
      return ok ? e : undefined;
    }, 20_000, 100);
    expect(listed(unready, 'addresses')).toEqual(want.slice(1));
    await unlink(marker);
    await waitFor(`${victim} back in addresses`, async () => JSON.stringify(listed(await endpointsOf('echo'), 'addresses')) === JSON.stringify(want), 20_000, 100);
  }, 90_000);

  it('bramble expose --type NodePort: a nodePort in 30000-32767, Endpoints for it, and the port refused to a second Service', async () => {
    const port = await freePort(cluster.agents.get('node1')!.address);
    const r = await bramble('expose', 'deployment', 'echo', '--name', 'echo-np', '--port', String(port), '--target-port', 'http', '--type', 'NodePort');
    expect(r).toMatchObject({ code: 0, stdout: 'service/echo-np exposed\n', stderr: '' });
    const svc = await cluster.resources().get('Service', 'default', 'echo-np');
    const nodePort = svc.spec.ports[0].nodePort!;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    expect(nodePort).toBeLessThanOrEqual(32767);
    expect(svc.spec.selector).toEqual({ app: 'echo' });

    const table = await bramble('get', 'svc', 'echo-np');
    expect(table.stdout).toMatch(new RegExp(`^echo-np\\s+NodePort\\s+<nodes>\\s+<none>\\s+${port}:${nodePort}/TCP\\s`, 'm'));
    const pods = (await podsOf(cluster, 'echo')).filter(isReady);
    await waitFor('Endpoints echo-np with the 3 pods', async () => listed(await endpointsOf('echo-np'), 'addresses').length === 3, 20_000, 100);
    const ep = await bramble('get', 'ep', 'echo-np');
    expect(ep.code).toBe(0);
    const first = expected(pods)[0];
    expect(ep.stdout).toContain(`${first.ip}:${first.port}`);

    const again = await bramble('expose', 'deployment', 'echo', '--name', 'echo-copy', '--port', String(port));
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`Error from server (Invalid): Service "echo-copy" is invalid: spec.ports[0].port: Invalid value: ${port}: provided port is already allocated\n`);
    const taken = await bramble('expose', 'deployment', 'echo', '--name', 'echo-copy', '--port', String(await freePort(cluster.agents.get('node1')!.address)), '--node-port', String(nodePort));
    expect(taken.stderr).toContain(`spec.ports[0].nodePort: Invalid value: ${nodePort}: provided port is already allocated`);
    await expect(cluster.resources().get('Service', 'default', 'echo-copy')).rejects.toThrow(/not found/);
  }, 60_000);

  it('a pod started after a Service gets <NAME>_SERVICE_HOST/PORT (its node address and the port); one started before does not', async () => {
    await cluster.resources().create(envPod('env-before'));
    await waitFor('env-before Running', async () => (await cluster.resources().get('Pod', 'default', 'env-before')).status?.phase === 'Running', 30_000, 100);
    const port = await freePort(cluster.agents.get('node1')!.address);
    await cluster.resources().create({ ...service('env-check', port, { role: 'env-check' }), spec: { selector: { role: 'env-check' }, ports: [{ name: 'http', port }] } });
    await cluster.resources().create(envPod('env-after'));
    const after = await waitFor('env-after Running', async () => {
      const p = await cluster.resources().get('Pod', 'default', 'env-after');
      return p.status?.phase === 'Running' ? p : undefined;
    }, 30_000, 100);

    const logOf = async (pod: string): Promise<Record<string, string>> => {
      const text = await waitFor(`the env printed by ${pod}`, async () => {
        const r = await bramble('logs', pod);
        return r.code === 0 && r.stdout.includes('PATH=') ? r.stdout : undefined;
      }, 20_000, 200);
      return Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    };
    const envAfter = await logOf('env-after');
    expect(envAfter.ENV_CHECK_SERVICE_HOST).toBe(after.status!.hostIP);
    expect(envAfter.ENV_CHECK_SERVICE_PORT).toBe(String(port));
    expect(envAfter.ENV_CHECK_SERVICE_PORT_HTTP).toBe(String(port));
    expect(envAfter.LINK).toBe(`${after.status!.hostIP}:${port}`);
    // The services that existed before: echo and echo-np too.
    expect(envAfter.ECHO_SERVICE_HOST).toBe(after.status!.hostIP);
    const envBefore = await logOf('env-before');
    expect(envBefore.ENV_CHECK_SERVICE_HOST).toBeUndefined();
    expect(envBefore.LINK).toBe('$(ENV_CHECK_SERVICE_HOST):$(ENV_CHECK_SERVICE_PORT)'); // unresolved references stay as written
  }, 60_000);

  it('deleting a Service deletes its Endpoints and frees its port', async () => {
    const svc = await cluster.resources().get('Service', 'default', 'echo');
    const port = svc.spec.ports[0].port;
    await cluster.resources().delete('Service', 'default', 'echo');
    await waitFor('Endpoints echo deleted', async () => (await endpointsOf('echo')) === undefined, 20_000, 100);
    const reused = await cluster.resources().create(service('echo-again', port, { app: 'echo' }));
    expect(reused.spec.ports[0].port).toBe(port);
    await waitFor('Endpoints echo-again with the pods', async () => listed(await endpointsOf('echo-again'), 'addresses').length === 3, 20_000, 100);
  }, 40_000);
});
