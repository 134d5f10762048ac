import { describe, expect, it } from 'vitest';
import type { Pod, ReplicaSet } from '@bramble/api';
import { MemoryClient, podsToDelete, ReplicaSetController, seededRandom, isoTime, withOverrides } from '../src/index.js';
import { BatchCounter, FakeClock, livePods, pod, replicaSet } from './helpers.js';

async function setup(options: { gracefulPodDeletion?: boolean } = {}) {
  const clock = new FakeClock();
  const client = new MemoryClient({ now: clock.now, random: seededRandom(3), ...options });
  const controller = new ReplicaSetController(client, { random: seededRandom(42) });
  return { clock, client, controller };
}

async function ownedPods(client: MemoryClient, rs: ReplicaSet): Promise<Pod[]> {
  return livePods(await client.list('Pod')).filter((p) => p.metadata.ownerReferences?.some((r) => r.uid === rs.metadata.uid && r.controller));
}

async function scale(client: MemoryClient, name: string, replicas: number): Promise<ReplicaSet> {
  const rs = (await client.get('ReplicaSet', 'default', name))!;
  return client.update({ ...rs, spec: { ...rs.spec, replicas } });
}

describe('ReplicaSet controller', () => {
  it('creates in slow-start batches; a pass stopped by burstReplicas resumes at the batch size it reached', async () => {
    const clock = new FakeClock();
    const memory = new MemoryClient({ now: clock.now, random: seededRandom(3) });
    const counter = new BatchCounter();
    const batches = counter.batches;
    const client = withOverrides(memory, { create: (obj) => counter.around(() => memory.create(obj)) });
    const controller = new ReplicaSetController(client, { random: seededRandom(42), burstReplicas: 10 });
    const rs = await memory.create(replicaSet('web', 25));
    await controller.runOnce(clock.nowMs);
    expect(batches.splice(0)).toEqual([1, 2, 4, 3]);
    await controller.runOnce(clock.advance(10));
    expect(batches.splice(0)).toEqual([10]); // not 1, 2, 4, 3 again
    await controller.runOnce(clock.advance(10));
    expect(batches.splice(0)).toEqual([5]);
    expect(await ownedPods(memory, rs)).toHaveLength(25);
    // Done: a later scale-up starts small again.
    await scale(memory, 'web', 32);
    await controller.runOnce(clock.advance(10));
    expect(batches.splice(0)).toEqual([1, 2, 4]);
  });

  it('creates the missing pods, owned and named <rs>-<5 chars>, with events and status', async () => {
    const { clock, client, controller } = await setup();
    const rs = await client.create(replicaSet('web', 3));
    const report = await controller.runOnce(clock.nowMs);
    const pods = await ownedPods(client, rs);
    expect(pods).toHaveLength(3);
    for (const p of pods) {
      expect(p.metadata.name).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      expect(p.metadata.labels).toEqual({ app: 'web' });
      expect(p.metadata.ownerReferences).toEqual([
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
    }
    expect(report.actions.filter((a) => a.startsWith('create'))).toHaveLength(3);
    const events = (await client.list('Event')).filter((e) => e.reason === 'SuccessfulCreate');
    expect(events.map((e) => e.message).sort()).toEqual(pods.map((p) => `Created pod: ${p.metadata.name}`).sort());
    const stored = await client.get('ReplicaSet', 'default', 'web');
    expect(stored?.status).toEqual({ replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 0, availableReplicas: 0, observedGeneration: 1 });
  });

  it('is idempotent: a second pass right after the first writes nothing', async () => {
    const { clock, client, controller } = await setup();
    await client.create(replicaSet('web', 4));
    await controller.runOnce(clock.nowMs);
    const revision = client.revision;
    const report = await controller.runOnce(clock.nowMs);
    expect(report.actions).toEqual([]);
    expect(client.revision).toBe(revision);
  });

  it('scales 6 -> 1 -> 9 with exact counts', async () => {
    const { clock, client, controller } = await setup();
    const rs = await client.create(replicaSet('web', 6));
    await controller.runOnce(clock.nowMs);
    expect(await ownedPods(client, rs)).toHaveLength(6);
    await scale(client, 'web', 1);
    await controller.runOnce(clock.advance(1000));
    expect(await ownedPods(client, rs)).toHaveLength(1);
    expect((await client.list('Event')).filter((e) => e.reason === 'SuccessfulDelete')).toHaveLength(5);
    await scale(client, 'web', 9);
    await controller.runOnce(clock.advance(1000));
    expect(await ownedPods(client, rs)).toHaveLength(9);
    await controller.runOnce(clock.advance(1000));
    expect(await ownedPods(client, rs)).toHaveLength(9);
    expect((await client.get('ReplicaSet', 'default', 'web'))?.status).toMatchObject({ replicas: 9, observedGeneration: 3 });
  });

  it('adopts orphans that match the selector and releases owned pods that stop matching', async () => {
    const { clock, client, controller } = await setup();
    const rs = await client.create(replicaSet('web', 2));
    await client.create(pod('orphan', { labels: { app: 'web' } }));
    await client.create(pod('stranger', { labels: { app: 'db' } }));
    await controller.runOnce(clock.nowMs);
    const pods = await ownedPods(client, rs);
    expect(pods).toHaveLength(2);
    expect(pods.map((p) => p.metadata.name)).toContain('orphan');
    expect((await client.get('Pod', 'default', 'stranger'))?.metadata.ownerReferences).toBeUndefined();

    // Relabel the adopted pod: it is released and replaced.
    const orphan = (await client.get('Pod', 'default', 'orphan'))!;
    await client.update({ ...orphan, metadata: { ...orphan.metadata, labels: { app: 'debug' } } });
    await controller.runOnce(clock.advance(1000));
    expect((await client.get('Pod', 'default', 'orphan'))?.metadata.ownerReferences).toEqual([]);
    expect(await ownedPods(client, rs)).toHaveLength(2);
  });

  it('does not count terminating or finished pods and replaces them', async () => {
    const { clock, client, controller } = await setup({ gracefulPodDeletion: true });
    const rs = await client.create(replicaSet('web', 2));
    await controller.runOnce(clock.nowMs);
    const [a, b] = await ownedPods(client, rs);
    await client.bindPod('default', a.metadata.name!, 'n1', a.metadata.resourceVersion!);
    await client.delete('Pod', 'default', a.metadata.name!); // terminating: the agent has not confirmed
    await client.updateStatus({ ...b, status: { phase: 'Failed' } });
    await controller.runOnce(clock.advance(1000));
    expect(await ownedPods(client, rs)).toHaveLength(2);
    expect((await client.list('Pod')).length).toBe(4);
  });

  it('availableReplicas honours minReadySeconds', async () => {
    const { clock, client, controller } = await setup();
    const rs = await client.create(replicaSet('web', 2, { minReadySeconds: 10 }));
    await controller.runOnce(clock.nowMs);
    for (const p of await ownedPods(client, rs)) {
      await client.updateStatus({ ...p, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: isoTime(clock.nowMs) }] } });
    }
    await controller.runOnce(clock.advance(5000));
    expect((await client.get('ReplicaSet', 'default', 'web'))?.status).toMatchObject({ readyReplicas: 2, availableReplicas: 0 });
    await controller.runOnce(clock.advance(5000));
    expect((await client.get('ReplicaSet', 'default', 'web'))?.status).toMatchObject({ readyReplicas: 2, availableReplicas: 2 });
  });

  it('creates nothing for a ReplicaSet being deleted', async () => {
    const { clock, client, controller } = await setup();
    const rs = await client.create(replicaSet('web', 2));
    await client.delete('ReplicaSet', 'default', 'web', { propagation: 'Foreground' });
    await controller.runOnce(clock.nowMs);
    expect(await ownedPods(client, rs)).toHaveLength(0);
  });
});

describe('deletion ranking', () => {
  const t = (s: number) => isoTime(Date.UTC(2024, 4, 1, 10, 0, s));
  const ready = (p: Pod, since: number): Pod => ({
    ...p,
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: t(since) }] },
  });

  it('unscheduled, then pending, then not ready, then doubled-up nodes, then ready for less time, then restarts, then newest', () => {
    const unscheduled = pod('unscheduled', { creationTimestamp: t(0) });
    const pending = pod('pending', { nodeName: 'n1', creationTimestamp: t(0) });
    const notReady = pod('not-ready', { nodeName: 'n1', phase: 'Running', creationTimestamp: t(0) });
    const doubledA = ready(pod('doubled-a', { nodeName: 'n2', creationTimestamp: t(0) }), 1);
    const doubledB = ready(pod('doubled-b', { nodeName: 'n2', creationTimestamp: t(0) }), 1);
    const readyRecently = ready(pod('ready-recently', { nodeName: 'n3', creationTimestamp: t(0) }), 50);
    const restarted = ready(pod('restarted', { nodeName: 'n4', creationTimestamp: t(0) }), 10);
    restarted.status!.containerStatuses = [{ name: 'main', ready: true, restartCount: 3 }];
    const newer = ready(pod('newer', { nodeName: 'n5', creationTimestamp: t(5) }), 10);
    const oldest = ready(pod('oldest', { nodeName: 'n6', creationTimestamp: t(0) }), 10);
    const all = [oldest, newer, restarted, readyRecently, doubledB, doubledA, notReady, pending, unscheduled];
    const order = podsToDelete(all, all.length).map((p) => p.metadata.name);
    expect(order).toEqual(['unscheduled', 'pending', 'not-ready', 'doubled-a', 'doubled-b', 'ready-recently', 'restarted', 'newer', 'oldest']);
  });

  it('the controller deletes in that order', async () => {
    const { clock, client, controller } = await setup();
    const rs = await client.create(replicaSet('web', 3));
    await controller.runOnce(clock.nowMs);
    const pods = await ownedPods(client, rs);
    // One bound and ready, one bound and pending, one unscheduled.
    const [p0, p1] = pods;
    const b0 = await client.bindPod('default', p0.metadata.name!, 'n1', p0.metadata.resourceVersion!);
    await client.updateStatus({ ...b0, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: isoTime(clock.nowMs) }] } });
    await client.bindPod('default', p1.metadata.name!, 'n2', p1.metadata.resourceVersion!);
    await scale(client, 'web', 1);
    await controller.runOnce(clock.advance(1000));
    expect((await ownedPods(client, rs)).map((p) => p.metadata.name)).toEqual([p0.metadata.name]);
  });
});
