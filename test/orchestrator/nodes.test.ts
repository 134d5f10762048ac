// Node failures and node joins on real processes. Issue 5 item 7: kill -9 an agent ->
// its node goes NotReady and its pods run elsewhere within 15 s (exact count); the
// agent restarted -> no duplicate pods, no stale processes; a DaemonSet runs on every
// node, including one added later; a pod that fits nowhere stays Pending with a
// FailedScheduling event and runs once a node with room joins.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Node, Pod } from '@bramble/api';
import { OrchestratorCluster, waitFor } from '@bramble/testkit';
import { HELLO_SERVER, countByNode, helloDaemonSet, helloDeployment, podsOf, waitForOneProcessPerPod, waitForRunning } from './helpers.js';

function readyStatus(node: Node): string | undefined {
  return node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
}

describe('nodes on a 3-master, 3-agent process cluster', () => {
  let cluster: OrchestratorCluster;

  beforeAll(async () => {
    cluster = await OrchestratorCluster.start({ masters: 3, agents: 3 });
  }, 90_000);

  afterAll(async () => {
    await cluster?.destroy();
  }, 60_000);

  it('moves the pods of a SIGKILLed agent to the other nodes within 15 s, exact count', async () => {
    await cluster.resources().create(helloDeployment('move', 6));
    const before = await waitForRunning(cluster, 'move', 6, 30_000);
    expect(countByNode(before).get('node2')).toBeGreaterThan(0);
    const killedAt = Date.now();
    await cluster.killAgent('node2', 'SIGKILL');
    const after = await waitForRunning(cluster, 'move', 6, 15_000, (pods) => pods.every((p) => p.spec.nodeName !== 'node2'));
    const elapsed = Date.now() - killedAt;
    expect(new Set(after.map((p) => p.metadata.name)).size).toBe(6);
    const node2 = await cluster.resources().get('Node', undefined, 'node2');
    expect(readyStatus(node2)).not.toBe('True');
    console.log(`pods of a killed agent Running elsewhere after ${elapsed} ms`);
  }, 60_000);

  it('a restarted agent kills its stale pod processes and duplicates nothing', async () => {
    // The SIGKILLed agent left its pod processes running (as a kubelet would).
    expect(cluster.podProcesses('node2').length).toBeGreaterThan(0);
    cluster.startAgent('node2');
    await cluster.waitForNodesReady(['node2'], 20_000);
    await waitForOneProcessPerPod(cluster, () => podsOf(cluster, 'move'));
    const pods = await waitForRunning(cluster, 'move', 6);
    expect(new Set(pods.map((p) => p.metadata.uid)).size).toBe(6);
    await cluster.resources().delete('Deployment', 'default', 'move');
    await waitFor('the move pods to be gone', async () => (await podsOf(cluster, 'move')).length === 0, 30_000, 100);
    await waitForOneProcessPerPod(cluster, () => podsOf(cluster, 'move'));
  }, 60_000);

  it('runs a DaemonSet on every node, a pod that fits nowhere stays Pending, and a new node takes both', async () => {
    await cluster.resources().create(helloDaemonSet('ds'));
    const daemons = await waitForRunning(cluster, 'ds', 3, 30_000);
    expect([...countByNode(daemons).keys()].sort()).toEqual(['node1', 'node2', 'node3']);

    const big: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'big', namespace: 'default', labels: { app: 'big' } },
      spec: {
        terminationGracePeriodSeconds: 5,
        containers: [{ name: 'big', command: [process.execPath, HELLO_SERVER], ports: [{ containerPort: 8080 }], resources: { requests: { cpu: '8', memory: '64Mi' } } }],
      },
    } as Pod;
    await cluster.resources().create(big);
    const event = await waitFor(
      'a FailedScheduling event for the pod that fits nowhere',
      async () => {
        const events = (await cluster.resources().list('Event', { namespace: 'default' })).items;
        return events.find((e) => e.involvedObject.name === 'big' && e.reason === 'FailedScheduling');
      },
      15_000,
      100,
    );
    expect(event.type).toBe('Warning');
    expect(event.message).toMatch(/cpu/i);
    const pending = await cluster.resources().get('Pod', 'default', 'big');
    expect(pending.status?.phase ?? 'Pending').toBe('Pending');
    expect(pending.spec.nodeName).toBeUndefined();

    cluster.addAgent('node4', { cpu: '16', memory: '8Gi' });
    await cluster.waitForNodesReady(['node4'], 20_000);
    const [running] = await waitForRunning(cluster, 'big', 1, 20_000);
    expect(running.spec.nodeName).toBe('node4');
    const daemonsAfter = await waitForRunning(cluster, 'ds', 4, 20_000);
    expect([...countByNode(daemonsAfter).keys()].sort()).toEqual(['node1', 'node2', 'node3', 'node4']);
    await waitForOneProcessPerPod(cluster, async () => [...(await podsOf(cluster, 'ds')), ...(await podsOf(cluster, 'big'))]);
  }, 90_000);
});
