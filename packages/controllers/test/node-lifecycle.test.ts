import { describe, expect, it } from 'vitest';
import type { Node } from '@bramble/api';
import { getCondition, MemoryClient, NodeLifecycleController, readyDecision, seededRandom } from '../src/index.js';
import { deployment, FakeClock, MiniCluster, node, pod } from './helpers.js';

async function setup(nodeNames = ['n1', 'n2', 'n3']) {
  const clock = new FakeClock();
  const client = new MemoryClient({ now: clock.now, random: seededRandom(1) });
  const heartbeats = new Map<string, number>();
  const controller = new NodeLifecycleController(client, { heartbeats: (n) => heartbeats.get(n) });
  for (const name of nodeNames) {
    await client.create(node(name));
    heartbeats.set(name, clock.nowMs);
  }
  return { clock, client, heartbeats, controller };
}

async function ready(client: MemoryClient, name: string) {
  const n = (await client.get('Node', undefined, name)) as Node;
  return { condition: getCondition(n.status?.conditions, 'Ready'), taints: n.spec?.taints ?? [] };
}

async function podNames(client: MemoryClient): Promise<string[]> {
  return (await client.list('Pod')).map((p) => p.metadata.name ?? '').sort();
}

describe('readyDecision', () => {
  const health = { firstSeenMs: 0, readyTransitionMs: 0 };
  it('needs a heartbeat within the grace period to become Ready', () => {
    expect(readyDecision(undefined, 1000, health, 2000, 4000)).toBe('MarkReady');
    expect(readyDecision('Unknown', 1000, health, 2000, 4000)).toBe('MarkReady');
    expect(readyDecision('True', 1000, health, 2000, 4000)).toBe('Keep');
    // Never heard from: the leader's first sight starts the grace period, it is no evidence of life.
    expect(readyDecision('Unknown', undefined, health, 1000, 4000)).toBe('Keep');
  });
  it('becomes NotReady after the grace period, counted from the later of heartbeat and first sight', () => {
    expect(readyDecision('True', 0, health, 4000, 4000)).toBe('Keep');
    expect(readyDecision('True', 0, health, 4001, 4000)).toBe('MarkNotReady');
    expect(readyDecision('True', undefined, { firstSeenMs: 10_000, readyTransitionMs: 10_000 }, 14_000, 4000)).toBe('Keep');
    expect(readyDecision('True', undefined, { firstSeenMs: 10_000, readyTransitionMs: 10_000 }, 14_001, 4000)).toBe('MarkNotReady');
  });
});

describe('node lifecycle controller', () => {
  it('marks a silent node NotReady after the grace period, with the unreachable taint and an event', async () => {
    const { clock, client, heartbeats, controller } = await setup();
    const t0 = clock.nowMs;
    await controller.runOnce(t0);
    clock.advance(4000);
    heartbeats.set('n2', clock.nowMs);
    heartbeats.set('n3', clock.nowMs);
    await controller.runOnce(clock.nowMs);
    expect((await ready(client, 'n1')).condition?.status).toBe('True');
    clock.advance(1);
    await controller.runOnce(clock.nowMs);
    const n1 = await ready(client, 'n1');
    expect(n1.condition).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' });
    expect(n1.taints).toMatchObject([{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }]);
    expect((await ready(client, 'n2')).condition?.status).toBe('True');
    const events = (await client.list('Event')).filter((e) => e.reason === 'NodeNotReady');
    expect(events.map((e) => e.message)).toEqual(['Node n1 status is now: NodeNotReady']);
    expect(events[0].involvedObject).toMatchObject({ kind: 'Node', name: 'n1' });
    // Only the transition is written.
    const revision = client.revision;
    await controller.runOnce(clock.advance(1000 - 1));
    expect(client.revision).toBe(revision);
  });

  it('evicts pods podEvictionTimeout after NotReady, honouring tolerations', async () => {
    const { clock, client, heartbeats, controller } = await setup();
    await client.create(pod('web', { nodeName: 'n1', phase: 'Running' }));
    await client.create(pod('daemon', { nodeName: 'n1', phase: 'Running', tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' }] }));
    await client.create(
      pod('patient', { nodeName: 'n1', phase: 'Running', tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 }] }),
    );
    await client.create(pod('elsewhere', { nodeName: 'n2', phase: 'Running' }));
    const beat = () => {
      heartbeats.set('n2', clock.nowMs);
      heartbeats.set('n3', clock.nowMs);
    };
    await controller.runOnce(clock.nowMs);
    clock.advance(4001);
    beat();
    await controller.runOnce(clock.nowMs); // n1 NotReady now
    const notReadyAt = clock.nowMs;
    clock.advance(2000);
    beat();
    await controller.runOnce(clock.nowMs);
    expect(await podNames(client)).toEqual(['daemon', 'elsewhere', 'web']);
    clock.advance(2999);
    beat();
    await controller.runOnce(clock.nowMs);
    expect(await podNames(client)).toEqual(['daemon', 'elsewhere', 'web']);
    clock.advance(1);
    beat();
    expect(clock.nowMs - notReadyAt).toBe(5000);
    await controller.runOnce(clock.nowMs);
    expect(await podNames(client)).toEqual(['daemon', 'elsewhere']);
    const evictions = (await client.list('Event')).filter((e) => e.reason === 'NodeControllerEviction');
    expect(evictions.map((e) => e.message)).toEqual(['Marking for deletion Pod default/patient from Node n1', 'Marking for deletion Pod default/web from Node n1']);
  });

  it('a node that comes back becomes Ready and loses the taint', async () => {
    const { clock, client, heartbeats, controller } = await setup(['n1', 'n2']);
    await controller.runOnce(clock.nowMs);
    clock.advance(5000);
    heartbeats.set('n2', clock.nowMs);
    await controller.runOnce(clock.nowMs);
    expect((await ready(client, 'n1')).condition?.status).toBe('Unknown');
    clock.advance(1000);
    heartbeats.set('n1', clock.nowMs);
    heartbeats.set('n2', clock.nowMs);
    await controller.runOnce(clock.nowMs);
    const n1 = await ready(client, 'n1');
    expect(n1.condition).toMatchObject({ status: 'True', reason: 'KubeletReady' });
    expect(n1.taints).toEqual([]);
    expect((await client.list('Event')).filter((e) => e.reason === 'NodeReady').map((e) => e.message)).toEqual(['Node n1 status is now: NodeReady']);
  });

  it('a new leader gives every node a fresh grace period instead of evicting everyone', async () => {
    const { clock, client, heartbeats, controller } = await setup();
    await client.create(pod('web', { nodeName: 'n1', phase: 'Running' }));
    await controller.runOnce(clock.nowMs);
    // The old leader goes away; ten seconds pass; the new leader has no heartbeats in memory.
    clock.advance(10_000);
    heartbeats.clear();
    const newLeader = new NodeLifecycleController(client, { heartbeats: (n) => heartbeats.get(n) });
    newLeader.onBecameLeader(clock.nowMs);
    await newLeader.runOnce(clock.nowMs);
    for (const n of ['n1', 'n2', 'n3']) expect((await ready(client, n)).condition?.status).toBe('True');
    // Agents find the new leader within the grace period, except n1's.
    clock.advance(2000);
    heartbeats.set('n2', clock.nowMs);
    heartbeats.set('n3', clock.nowMs);
    await newLeader.runOnce(clock.nowMs);
    clock.advance(2001);
    await newLeader.runOnce(clock.nowMs);
    expect((await ready(client, 'n1')).condition?.status).toBe('Unknown');
    expect((await ready(client, 'n2')).condition?.status).toBe('True');
    expect(await podNames(client)).toEqual(['web']);
  });

  it('a node already NotReady when leadership changes gets a fresh eviction timeout', async () => {
    const { clock, client, heartbeats, controller } = await setup(['n1', 'n2']);
    await client.create(pod('web', { nodeName: 'n1', phase: 'Running' }));
    await controller.runOnce(clock.nowMs);
    clock.advance(4001);
    heartbeats.set('n2', clock.nowMs);
    await controller.runOnce(clock.nowMs); // n1 NotReady under the old leader
    clock.advance(4000); // the old leader dies 1 s before it would have evicted
    const newLeader = new NodeLifecycleController(client, { heartbeats: (n) => heartbeats.get(n) });
    newLeader.onBecameLeader(clock.nowMs);
    heartbeats.clear();
    heartbeats.set('n2', clock.nowMs);
    await newLeader.runOnce(clock.nowMs);
    clock.advance(4999);
    heartbeats.set('n2', clock.nowMs);
    await newLeader.runOnce(clock.nowMs);
    expect(await podNames(client)).toEqual(['web']);
    clock.advance(1);
    heartbeats.set('n2', clock.nowMs);
    await newLeader.runOnce(clock.nowMs);
    expect(await podNames(client)).toEqual([]);
  });

  it('evicts nothing when every node is NotReady', async () => {
    const { clock, client, controller } = await setup(['n1', 'n2']);
    await client.create(pod('web', { nodeName: 'n1', phase: 'Running' }));
    await controller.runOnce(clock.nowMs);
    clock.advance(20_000);
    await controller.runOnce(clock.nowMs);
    const report = await controller.runOnce(clock.advance(20_000));
    expect((await ready(client, 'n1')).condition?.status).toBe('Unknown');
    expect((await ready(client, 'n2')).condition?.status).toBe('Unknown');
    expect(await podNames(client)).toEqual(['web']);
    expect(report.actions).toEqual(['all 2 node(s) are NotReady: no evictions (full disruption)']);
  });

  it('the same master regaining leadership starts fresh too (ControllerManager.onLeadershipChange)', async () => {
    const c = new MiniCluster();
    for (const name of ['n1', 'n2', 'n3']) await c.addNode(name);
    await c.client.create(deployment('web', 3));
    await c.run(3);
    c.manager.onLeadershipChange(false, c.clock.nowMs);
    c.clock.advance(20_000); // another master led for a while; ours kept no heartbeats
    c.heartbeats.clear();
    c.manager.onLeadershipChange(true, c.clock.nowMs);
    await c.manager.tick(c.clock.nowMs);
    await c.step(2000); // agents report to us within the grace period
    for (const n of ['n1', 'n2', 'n3']) expect((await ready(c.client, n)).condition?.status).toBe('True');
    expect((await c.client.list('Event')).filter((e) => e.reason === 'NodeNotReady')).toHaveLength(0);
    expect(await c.pods()).toHaveLength(3);
  });

  it('force-deletes pods bound to a node that no longer exists, after the eviction timeout', async () => {
    const { clock, client, heartbeats, controller } = await setup(['n1']);
    await client.create(pod('stranded', { nodeName: 'gone', phase: 'Running' }));
    await client.create(pod('fine', { nodeName: 'n1', phase: 'Running' }));
    await controller.runOnce(clock.nowMs);
    clock.advance(4999);
    heartbeats.set('n1', clock.nowMs);
    await controller.runOnce(clock.nowMs);
    expect(await podNames(client)).toEqual(['fine', 'stranded']);
    clock.advance(1);
    await controller.runOnce(clock.nowMs);
    expect(await podNames(client)).toEqual(['fine']);
  });
});
