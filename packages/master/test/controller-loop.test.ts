// The controller loop on three in-process masters, with fake agents that join and
// heartbeat over gRPC: a Deployment gets a ReplicaSet and bound pods, a silent node
// goes NotReady and its pods move, and a leadership transfer hands the controllers over.
import type { Deployment, Pod } from '@bramble/api';
import { waitFor } from '@bramble/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { Master } from '../src/index.js';
import { FakeAgent, TestCluster } from './nodes-helpers.js';

const JOIN_TOKEN = 'loopte.0123456789abcdef';

let cluster: TestCluster | undefined;
const agents: FakeAgent[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) a.stopHeartbeats();
  await cluster?.stop();
  cluster = undefined;
});

function deployment(replicas: number): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'main', command: ['sleep', '1000'] }] } },
    },
  };
}

async function livePods(m: Master): Promise<Pod[]> {
  return (await m.resources.list('Pod')).filter((p) => !p.metadata.deletionTimestamp);
}

function passes(m: Master): Promise<number> {
  return m.nodes.controllers.metrics.passes.get().then((v) => v.values.reduce((sum, x) => sum + x.value, 0));
}

describe('controller loop', () => {
  it('runs the Deployment, evicts from a silent node, and follows a leadership transfer without duplicates', async () => {
    cluster = await TestCluster.start(3, { joinToken: JOIN_TOKEN, nodeGraceMs: 1000, podEvictionTimeoutMs: 1000 });
    const c = cluster;
    const leader = await c.leader();
    await waitFor('the --join-token stored', async () => (await leader.nodes.tokens.list()).some((t) => t.id === 'loopte'));
    for (const name of ['node1', 'node2', 'node3']) {
      const agent = new FakeAgent(c, name, JOIN_TOKEN);
      agents.push(agent);
      await agent.join();
      agent.startHeartbeats(200);
    }

    await leader.resources.create(deployment(3));
    const placed = await waitFor('3 bound pods', async () => {
      const pods = await livePods(leader);
      return pods.length === 3 && pods.every((p) => p.spec.nodeName) && pods;
    });
    const replicaSets = await leader.resources.list('ReplicaSet');
    expect(replicaSets).toHaveLength(1);
    expect(placed.every((p) => p.metadata.ownerReferences?.[0]?.uid === replicaSets[0].metadata.uid)).toBe(true);
    expect(new Set(placed.map((p) => p.spec.nodeName))).toEqual(new Set(['node1', 'node2', 'node3']));

    // node1 goes silent: NotReady after the grace period, its pod evicted and replaced elsewhere.
    agents[0].stopHeartbeats();
    await waitFor('node1 NotReady', async () => {
      const n = await leader.resources.get('Node', undefined, 'node1');
      return n?.status?.conditions?.find((x) => x.type === 'Ready')?.status === 'Unknown';
    }, 10_000);
    const moved = await waitFor('3 pods on node2 and node3', async () => {
      const pods = await livePods(leader);
      return pods.length === 3 && pods.every((p) => p.spec.nodeName === 'node2' || p.spec.nodeName === 'node3') && pods;
    }, 10_000);
    expect(new Set(moved.map((p) => p.metadata.name)).size).toBe(3);
    const node2 = await leader.resources.get('Node', undefined, 'node2');
    expect(node2?.status?.conditions?.find((x) => x.type === 'Ready')?.status).toBe('True');

    // Hand leadership to another master: the old one stops at once, the new one continues.
    const target = [...c.masters.values()].find((m) => m !== leader)!;
    await c.client().transferLeader(target.name);
    const next = await waitFor('the new leader running the controllers', () => target.host.isLeader && target.nodes.controllers.active && target);
    expect(leader.nodes.controllers.active).toBe(false);
    // A pass that was in flight stops at its next write; after it, the old leader runs none.
    await waitFor('the old leader to finish its pass in flight', () => !leader.nodes.controllers.busy);
    const oldPasses = await passes(leader);
    const d = (await next.resources.get('Deployment', 'default', 'web'))!;
    await next.resources.update({ ...d, spec: { ...d.spec, replicas: 5 } });
    const scaled = await waitFor('5 bound pods', async () => {
      const pods = await livePods(next);
      return pods.length === 5 && pods.every((p) => p.spec.nodeName === 'node2' || p.spec.nodeName === 'node3') && pods;
    }, 10_000);
    expect(new Set(scaled.map((p) => p.metadata.name)).size).toBe(5);
    await waitFor('the Deployment status to show 5 replicas', async () => (await next.resources.get('Deployment', 'default', 'web'))?.status?.replicas === 5);
    // A few more passes on the new leader change nothing: exactly 5, and the old leader ran none.
    const nextPasses = await passes(next);
    await waitFor('two more passes on the new leader', async () => (await passes(next)) >= nextPasses + 2);
    expect(await livePods(next)).toHaveLength(5);
    expect(await next.resources.list('ReplicaSet')).toHaveLength(1);
    expect(await passes(leader)).toBe(oldPasses);
  });
});
