// Deployments on real processes: 3 masters, 3 agents, pods as child processes.
// Issue 5 item 7: a Deployment of 6 spreads over the nodes; a killed pod process is
// restarted; a deleted pod is replaced; scaling 6 -> 1 -> 9; killing the leader master
// during a scale-up ends with the exact count and no duplicate processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isApiError } from '@bramble/api';
import { OrchestratorCluster, waitFor } from '@bramble/testkit';
import { countByNode, helloDeployment, pidOf, podsOf, waitForOneProcessPerPod, waitForRunning } from './helpers.js';

describe('deployments on a 3-master, 3-agent process cluster', () => {
  let cluster: OrchestratorCluster;
  const app = 'web';

  beforeAll(async () => {
    cluster = await OrchestratorCluster.start({ masters: 3, agents: 3 });
  }, 90_000);

  afterAll(async () => {
    await cluster?.destroy();
  }, 60_000);

  it('runs a Deployment of 6 as 6 Running pods, at least 2 per node', async () => {
    await cluster.resources().create(helloDeployment(app, 6));
    const pods = await waitForRunning(cluster, app, 6, 30_000);
    const perNode = countByNode(pods);
    expect([...perNode.keys()].sort()).toEqual(['node1', 'node2', 'node3']);
    for (const [node, n] of perNode) expect(n, `pods on ${node}`).toBeGreaterThanOrEqual(2);
    await waitForOneProcessPerPod(cluster, () => podsOf(cluster, app));
    // The pods really serve: each answers on its node address and host port.
    for (const pod of pods) {
      const port = pod.status!.containerStatuses![0].ports![0].hostPort;
      const res = await fetch(`http://${pod.status!.podIP}:${port}/`);
      expect(res.status).toBe(200);
    }
  }, 60_000);

  it('restarts a pod whose process is killed with SIGKILL (restartCount + 1)', async () => {
    const [victim] = await waitForRunning(cluster, app, 6);
    const before = victim.status!.containerStatuses![0].restartCount;
    process.kill(pidOf(victim), 'SIGKILL');
    const after = await waitFor(
      'the killed container to run again with restartCount + 1',
      async () => {
        const pod = await cluster.resources().get('Pod', 'default', victim.metadata.name!);
        const cs = pod.status?.containerStatuses?.[0];
        return cs && cs.restartCount === before + 1 && cs.state?.running && pod.status?.phase === 'Running' ? pod : undefined;
      },
      20_000,
      100,
    );
    expect(after.metadata.uid).toBe(victim.metadata.uid);
    expect(pidOf(after)).not.toBe(pidOf(victim));
    expect(after.status!.containerStatuses![0].lastState?.terminated).toBeDefined();
    await waitForRunning(cluster, app, 6);
    await waitForOneProcessPerPod(cluster, () => podsOf(cluster, app));
  }, 40_000);

  it('replaces a deleted pod', async () => {
    const [victim] = await waitForRunning(cluster, app, 6);
    await cluster.resources().delete('Pod', 'default', victim.metadata.name!);
    const pods = await waitForRunning(cluster, app, 6, 30_000, (ps) => ps.every((p) => p.metadata.uid !== victim.metadata.uid));
    expect(pods.map((p) => p.metadata.name)).not.toContain(victim.metadata.name);
    await waitForOneProcessPerPod(cluster, () => podsOf(cluster, app));
  }, 40_000);

  it('scales 6 -> 1 -> 9', async () => {
    await cluster.resources().patch('Deployment', 'default', app, { spec: { replicas: 1 } });
    await waitForRunning(cluster, app, 1, 30_000);
    await waitForOneProcessPerPod(cluster, () => podsOf(cluster, app));
    await cluster.resources().patch('Deployment', 'default', app, { spec: { replicas: 9 } });
    const pods = await waitForRunning(cluster, app, 9, 30_000);
    expect(countByNode(pods).size).toBe(3);
    await waitForOneProcessPerPod(cluster, () => podsOf(cluster, app));
  }, 70_000);

  it('reaches the exact count with no duplicates when the leader master is killed during a scale-up', async () => {
    await cluster.resources().patch('Deployment', 'default', app, { spec: { replicas: 3 } });
    await waitForRunning(cluster, app, 3, 30_000);
    const leader = await cluster.masters.waitForLeader();
    await cluster.resources().patch('Deployment', 'default', app, { spec: { replicas: 12 } });
    await cluster.masters.kill(leader, 'SIGKILL');
    const pods = await waitForRunning(cluster, app, 12, 40_000);
    expect(new Set(pods.map((p) => p.metadata.name)).size).toBe(12);
    const rs = (await cluster.resources().list('ReplicaSet', { namespace: 'default', labelSelector: `app=${app}` })).items;
    expect(rs).toHaveLength(1);
    await waitForOneProcessPerPod(cluster, () => podsOf(cluster, app));
    await cluster.masters.restart(leader);
    await cluster.masters.waitForMembers();
  }, 90_000);

  it('rejects bad manifests naming the field, and creates nothing', async () => {
    const bad = helloDeployment('bad', 2) as unknown as { spec: Record<string, unknown> };
    bad.spec.replicas = -1;
    bad.spec.replicaz = 3;
    const error = await cluster.resources().create(bad as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isApiError(error, 'Invalid')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('spec.replicas');
    expect(message).toContain('spec.replicaz');
    const missing = await cluster.resources().get('Deployment', 'default', 'bad').then(
      () => 'exists',
      (e: unknown) => (isApiError(e, 'NotFound') ? 'absent' : String(e)),
    );
    expect(missing).toBe('absent');
    expect(await podsOf(cluster, 'bad')).toHaveLength(0);
  }, 20_000);
});
