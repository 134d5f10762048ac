import { describe, expect, it } from 'vitest';
import type { DaemonSet, Node } from '@bramble/api';
import { CONTROLLER_REVISION_HASH_LABEL, nodeShouldRunDaemonPod } from '../src/index.js';
import { countBy, daemonSet, MiniCluster, node } from './helpers.js';

async function cluster(nodes = 3): Promise<MiniCluster> {
  const c = new MiniCluster({ controllers: ['daemonset', 'scheduler'] });
  for (let i = 1; i <= nodes; i++) await c.addNode(`node-${i}`);
  return c;
}

async function dsStatus(c: MiniCluster, name = 'agent-logs') {
  return (await c.client.get('DaemonSet', 'default', name))?.status;
}

async function perNode(c: MiniCluster): Promise<Record<string, number>> {
  return countBy(await c.pods(), (p) => p.spec.nodeName ?? '<unbound>');
}

describe('nodeShouldRunDaemonPod', () => {
  const ds = daemonSet('d');
  const cases: Array<[string, Node, DaemonSet, boolean, boolean]> = [
    ['plain node', node('n'), ds, true, true],
    ['NotReady node (daemon pods tolerate not-ready and unreachable)', node('n', { ready: 'Unknown', taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] }), ds, true, true],
    ['cordoned node', node('n', { unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] }), ds, true, true],
    ['untolerated NoSchedule: no new pod, an existing one stays', node('n', { taints: [{ key: 'gpu', effect: 'NoSchedule' }] }), ds, false, true],
    ['untolerated NoExecute: no pod at all', node('n', { taints: [{ key: 'gpu', effect: 'NoExecute' }] }), ds, false, false],
    ['tolerated taint', node('n', { taints: [{ key: 'gpu', effect: 'NoExecute' }] }), daemonSet('d', { tolerations: [{ key: 'gpu', operator: 'Exists' }] }), true, true],
    ['nodeSelector mismatch', node('n'), daemonSet('d', { nodeSelector: { disk: 'ssd' } }), false, false],
    ['nodeSelector match', node('n', { labels: { disk: 'ssd' } }), daemonSet('d', { nodeSelector: { disk: 'ssd' } }), true, true],
  ];
  for (const [name, n, set, shouldRun, shouldContinueRunning] of cases) {
    it(name, () => expect(nodeShouldRunDaemonPod(n, set)).toEqual({ shouldRun, shouldContinueRunning }));
  }
});

describe('DaemonSet controller', () => {
  it('runs one pod on every node, bound at creation, including a node added later', async () => {
    const c = await cluster();
    const ds = await c.client.create(daemonSet('agent-logs'));
    await c.step();
    expect(await perNode(c)).toEqual({ 'node-1': 1, 'node-2': 1, 'node-3': 1 });
    const pods = await c.pods();
    expect(pods.every((p) => p.metadata.ownerReferences?.[0]?.uid === ds.metadata.uid)).toBe(true);
    expect(pods.every((p) => p.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL])).toBe(true);
    expect(pods[0].spec.tolerations?.map((t) => t.key)).toContain('node.kubernetes.io/unreachable');
    // Bound directly: no Scheduled event.
    expect((await c.client.list('Event')).filter((e) => e.reason === 'Scheduled')).toHaveLength(0);

    await c.step();
    expect(await dsStatus(c)).toMatchObject({ desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 3, numberMisscheduled: 0, updatedNumberScheduled: 3 });

    await c.addNode('node-4');
    await c.step();
    await c.step();
    expect(await perNode(c)).toEqual({ 'node-1': 1, 'node-2': 1, 'node-3': 1, 'node-4': 1 });
    expect(await dsStatus(c)).toMatchObject({ desiredNumberScheduled: 4, currentNumberScheduled: 4, numberReady: 4 });
    // Idempotent.
    const revision = c.client.revision;
    await c.manager.reconcileAll(c.clock.nowMs);
    expect(c.client.revision).toBe(revision);
  });

  it('honours nodeSelector, and follows label changes', async () => {
    const c = await cluster();
    const n2 = (await c.client.get('Node', undefined, 'node-2'))!;
    await c.client.update({ ...n2, metadata: { ...n2.metadata, labels: { ...n2.metadata.labels, disk: 'ssd' } } });
    await c.client.create(daemonSet('agent-logs', { nodeSelector: { disk: 'ssd' } }));
    await c.run(2);
    expect(await perNode(c)).toEqual({ 'node-2': 1 });
    expect(await dsStatus(c)).toMatchObject({ desiredNumberScheduled: 1, currentNumberScheduled: 1 });

    // node-2 loses the label: its pod goes; node-3 gains it: it gets one.
    const n2b = (await c.client.get('Node', undefined, 'node-2'))!;
    await c.client.update({ ...n2b, metadata: { ...n2b.metadata, labels: { 'kubernetes.io/hostname': 'node-2' } } });
    const n3 = (await c.client.get('Node', undefined, 'node-3'))!;
    await c.client.update({ ...n3, metadata: { ...n3.metadata, labels: { ...n3.metadata.labels, disk: 'ssd' } } });
    await c.run(2);
    expect(await perNode(c)).toEqual({ 'node-3': 1 });
  });

  it('removes pods from nodes that vanish or get an untolerated NoExecute taint, and replaces failed pods', async () => {
    const c = await cluster();
    await c.client.create(daemonSet('agent-logs'));
    await c.step();
    await c.client.delete('Node', undefined, 'node-1');
    const n2 = (await c.client.get('Node', undefined, 'node-2'))!;
    await c.client.update({ ...n2, spec: { taints: [{ key: 'maintenance', effect: 'NoExecute' }] } });
    await c.step();
    expect(await perNode(c)).toEqual({ 'node-3': 1 });
    const status = await dsStatus(c);
    expect(status).toMatchObject({ desiredNumberScheduled: 1, currentNumberScheduled: 1, numberMisscheduled: 0 });

    const [p] = await c.pods();
    await c.client.updateStatus({ ...p, status: { phase: 'Failed' } });
    await c.manager.reconcileAll(c.clock.nowMs); // deletes the failed pod
    expect(await c.pods()).toHaveLength(0);
    await c.manager.reconcileAll(c.clock.nowMs); // and, as in Kubernetes, replaces it on the next pass
    const after = await c.pods();
    expect(after).toHaveLength(1);
    expect(after[0].metadata.name).not.toBe(p.metadata.name);
  });

  it('rolling update replaces pods of an old template one node at a time', async () => {
    const c = await cluster();
    c.readyAfterMs = 2000;
    await c.client.create(daemonSet('agent-logs'));
    await c.run(4);
    const ds = (await c.client.get('DaemonSet', 'default', 'agent-logs'))!;
    ds.spec.template.spec.containers[0].image = 'logs:2';
    await c.client.update(ds);
    for (let i = 0; i < 30; i++) {
      await c.step();
      const pods = await c.pods();
      const unavailable = 3 - pods.filter((p) => p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')).length;
      expect(unavailable).toBeLessThanOrEqual(1);
    }
    const pods = await c.pods();
    expect(pods.map((p) => p.spec.containers[0].image)).toEqual(['logs:2', 'logs:2', 'logs:2']);
    expect(await dsStatus(c)).toMatchObject({ updatedNumberScheduled: 3, numberAvailable: 3, numberUnavailable: 0 });
  });
});
