import { describe, expect, it } from 'vitest';
import type { Node, Pod } from '@bramble/api';
import { ConflictError, MemoryClient, podsByNode, schedule, Scheduler, seededRandom, withOverrides } from '../src/index.js';
import { countBy, FakeClock, node, pod } from './helpers.js';

const owner = { kind: 'ReplicaSet', name: 'web-abc', uid: 'uid-rs-web' };

function none(): Map<string, Pod[]> {
  return new Map();
}

describe('schedule: filters', () => {
  const cases: Array<{ name: string; pod: Pod; nodes: Node[]; bound?: Pod[]; node?: string; message?: string }> = [
    {
      name: 'a NotReady node is filtered out',
      pod: pod('p'),
      nodes: [node('n1', { ready: false }), node('n2')],
      node: 'n2',
    },
    {
      name: 'no Ready node at all',
      pod: pod('p'),
      nodes: [node('n1', { ready: false }), node('n2', { ready: 'Unknown' })],
      message: '0/2 nodes are available: 2 node(s) were not ready.',
    },
    {
      name: 'a cordoned node is filtered out',
      pod: pod('p'),
      nodes: [node('n1', { unschedulable: true })],
      message: '0/1 nodes are available: 1 node(s) were unschedulable.',
    },
    {
      name: 'a cordoned node takes a pod that tolerates node.kubernetes.io/unschedulable',
      pod: pod('p', { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] }),
      nodes: [node('n1', { unschedulable: true })],
      node: 'n1',
    },
    {
      name: 'the exact FailedScheduling message of Kubernetes',
      pod: pod('p', { cpu: '2' }),
      nodes: [node('master', { taints: [{ key: 'node-role', value: 'master', effect: 'NoSchedule' }] }), node('n1', { cpu: '1' }), node('n2', { cpu: '1' })],
      message: '0/3 nodes are available: 1 node(s) had untolerated taint {node-role: master}, 2 Insufficient cpu.',
    },
    {
      name: 'Equal toleration matching key, value and effect',
      pod: pod('p', { tolerations: [{ key: 'node-role', operator: 'Equal', value: 'master', effect: 'NoSchedule' }] }),
      nodes: [node('master', { taints: [{ key: 'node-role', value: 'master', effect: 'NoSchedule' }] })],
      node: 'master',
    },
    {
      name: 'Equal toleration with another value does not match',
      pod: pod('p', { tolerations: [{ key: 'node-role', operator: 'Equal', value: 'worker', effect: 'NoSchedule' }] }),
      nodes: [node('master', { taints: [{ key: 'node-role', value: 'master', effect: 'NoSchedule' }] })],
      message: '0/1 nodes are available: 1 node(s) had untolerated taint {node-role: master}.',
    },
    {
      name: 'toleration with another effect does not match',
      pod: pod('p', { tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }] }),
      nodes: [node('n1', { taints: [{ key: 'dedicated', effect: 'NoExecute' }] })],
      message: '0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: }.',
    },
    {
      name: 'Exists without key or effect tolerates everything',
      pod: pod('p', { tolerations: [{ operator: 'Exists' }] }),
      nodes: [node('n1', { taints: [{ key: 'a', value: 'b', effect: 'NoExecute' }, { key: 'c', effect: 'NoSchedule' }] })],
      node: 'n1',
    },
    {
      name: 'PreferNoSchedule does not filter',
      pod: pod('p'),
      nodes: [node('n1', { taints: [{ key: 'soft', effect: 'PreferNoSchedule' }] })],
      node: 'n1',
    },
    {
      name: 'nodeSelector',
      pod: pod('p', { nodeSelector: { disk: 'ssd' } }),
      nodes: [node('n1', { labels: { disk: 'hdd' } }), node('n2', { labels: { disk: 'ssd' } }), node('n3')],
      node: 'n2',
    },
    {
      name: 'nodeSelector matching nothing',
      pod: pod('p', { nodeSelector: { disk: 'ssd' } }),
      nodes: [node('n1'), node('n2')],
      message: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
    },
    {
      name: 'memory',
      pod: pod('p', { memory: '3Gi' }),
      nodes: [node('n1', { memory: '2Gi' })],
      message: '0/1 nodes are available: 1 Insufficient memory.',
    },
    {
      name: 'cpu and memory both reported',
      pod: pod('p', { cpu: '8', memory: '8Gi' }),
      nodes: [node('n1')],
      message: '0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.',
    },
    {
      name: 'requests of bound pods count, terminated ones do not',
      pod: pod('p', { cpu: '2' }),
      nodes: [node('n1', { cpu: '3' }), node('n2', { cpu: '3' })],
      bound: [pod('a', { cpu: '2', nodeName: 'n1', phase: 'Running' }), pod('b', { cpu: '2', nodeName: 'n2', phase: 'Succeeded' })],
      node: 'n2',
    },
    {
      name: 'pod count',
      pod: pod('p'),
      nodes: [node('n1', { pods: '1' })],
      bound: [pod('a', { nodeName: 'n1', phase: 'Running' })],
      message: '0/1 nodes are available: 1 Too many pods.',
    },
    {
      name: 'no nodes',
      pod: pod('p'),
      nodes: [],
      message: 'no nodes available to schedule pods',
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const result = schedule(c.pod, c.nodes, podsByNode(c.bound ?? []));
      expect(result.node).toBe(c.node);
      expect(result.message).toBe(c.message);
    });
  }

  it('reports reasons per node and as a histogram', () => {
    const result = schedule(pod('p', { cpu: '2' }), [node('a', { cpu: '1' }), node('b', { ready: false }), node('c')], none());
    expect(result.node).toBe('c');
    expect(result.unfit).toEqual({ a: ['Insufficient cpu'], b: ['node(s) were not ready'] });
    expect(result.reasons).toEqual(['1 Insufficient cpu', '1 node(s) were not ready']);
  });
});

describe('schedule: scores', () => {
  it('prefers the least allocated node', () => {
    const bound = [pod('a', { cpu: '2', memory: '2Gi', nodeName: 'n1', phase: 'Running' }), pod('b', { cpu: '1', memory: '1Gi', nodeName: 'n2', phase: 'Running' })];
    const result = schedule(pod('p', { cpu: '500m', memory: '512Mi' }), [node('n1'), node('n2'), node('n3')], podsByNode(bound));
    expect(result.node).toBe('n3');
    expect(result.scores.map((s) => s.node)).toEqual(['n3', 'n2', 'n1']);
    expect(result.scores[0].leastAllocated).toBeGreaterThan(result.scores[1].leastAllocated);
  });

  it('prefers a bigger node when the load is the same', () => {
    const result = schedule(pod('p', { cpu: '1' }), [node('small', { cpu: '2' }), node('big', { cpu: '8' })], none());
    expect(result.node).toBe('big');
  });

  it('breaks ties by node name, deterministically', () => {
    const nodes = [node('n3'), node('n1'), node('n2')];
    expect(schedule(pod('p'), nodes, none()).node).toBe('n1');
    expect(schedule(pod('p'), [...nodes].reverse(), none()).node).toBe('n1');
  });

  it('spreads pods of one owner over nodes even against least-allocated', () => {
    // n1 is emptier, but already has a pod of the same owner; n2 has an unrelated heavier pod.
    const bound = [pod('sib', { nodeName: 'n1', owner, phase: 'Running' }), pod('other', { cpu: '500m', nodeName: 'n2', phase: 'Running' })];
    const result = schedule(pod('p', { owner }), [node('n1'), node('n2')], podsByNode(bound));
    expect(result.node).toBe('n2');
    expect(result.scores.find((s) => s.node === 'n1')?.spread).toBe(0);
    expect(result.scores.find((s) => s.node === 'n2')?.spread).toBe(100);
  });

  it('6 pods of one owner on 3 equal nodes go 2/2/2', () => {
    const nodes = [node('n1'), node('n2'), node('n3')];
    const placed: Pod[] = [];
    for (let i = 0; i < 6; i++) {
      const p = pod(`web-${i}`, { owner });
      const result = schedule(p, nodes, podsByNode(placed));
      placed.push({ ...p, spec: { ...p.spec, nodeName: result.node } });
    }
    expect(countBy(placed, (p) => p.spec.nodeName ?? '')).toEqual({ n1: 2, n2: 2, n3: 2 });
  });

  it('fills nodes until capacity is exhausted, then reports it', () => {
    const nodes = [node('n1', { cpu: '1' }), node('n2', { cpu: '1' })];
    const placed: Pod[] = [];
    for (let i = 0; i < 4; i++) {
      const p = pod(`p${i}`, { cpu: '500m', owner });
      const result = schedule(p, nodes, podsByNode(placed));
      expect(result.node).toBeDefined();
      placed.push({ ...p, spec: { ...p.spec, nodeName: result.node } });
    }
    expect(countBy(placed, (p) => p.spec.nodeName ?? '')).toEqual({ n1: 2, n2: 2 });
    const result = schedule(pod('p5', { cpu: '500m', owner }), nodes, podsByNode(placed));
    expect(result.node).toBeUndefined();
    expect(result.message).toBe('0/2 nodes are available: 2 Insufficient cpu.');
  });
});

describe('Scheduler loop', () => {
  async function setup() {
    const clock = new FakeClock();
    const client = new MemoryClient({ now: clock.now, random: seededRandom(1) });
    return { clock, client, scheduler: new Scheduler(client) };
  }

  it('binds pending pods in creation order, counting earlier binds of the same pass', async () => {
    const { clock, client, scheduler } = await setup();
    await client.create(node('n1', { cpu: '1' }));
    await client.create(node('n2', { cpu: '1' }));
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      await client.create(pod(`p${i}`, { cpu: '500m' }));
    }
    const report = await scheduler.runOnce(clock.nowMs);
    const pods = await client.list('Pod');
    const bound = pods.filter((p) => p.spec.nodeName);
    expect(bound.map((p) => p.metadata.name)).toEqual(['p0', 'p1', 'p2', 'p3']);
    expect(countBy(bound, (p) => p.spec.nodeName ?? '')).toEqual({ n1: 2, n2: 2 });
    expect(report.actions.filter((a) => a.startsWith('bind'))).toHaveLength(4);

    const events = await client.list('Event');
    expect(events.filter((e) => e.reason === 'Scheduled')).toHaveLength(4);
    expect(events.find((e) => e.reason === 'Scheduled')?.message).toBe('Successfully assigned default/p0 to n1');
    const failed = events.filter((e) => e.reason === 'FailedScheduling');
    expect(failed).toHaveLength(1);
    expect(failed[0].involvedObject.name).toBe('p4');
    expect(failed[0].type).toBe('Warning');
    expect(failed[0].message).toBe('0/2 nodes are available: 2 Insufficient cpu.');
    const p4 = pods.find((p) => p.metadata.name === 'p4');
    expect(p4?.status?.conditions?.find((c) => c.type === 'PodScheduled')).toMatchObject({ status: 'False', reason: 'Unschedulable' });
  });

  it('places pods created while its bindings are in flight in the same pass, counting the bindings in flight', async () => {
    const clock = new FakeClock();
    const memory = new MemoryClient({ now: clock.now, random: seededRandom(1) });
    let bindStarted!: () => void;
    const started = new Promise<void>((r) => (bindStarted = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gated = withOverrides(memory, {
      async bindPod(namespace, name, node, rv) {
        if (name === 'p0') {
          bindStarted();
          await gate; // p0's binding is slow to commit
        }
        return memory.bindPod(namespace, name, node, rv);
      },
    });
    await memory.create(node('n1', { cpu: '1' }));
    await memory.create(node('n2', { cpu: '1' }));
    await memory.create(pod('p0', { cpu: '600m' }));
    const pass = new Scheduler(gated).runOnce(clock.nowMs);
    await started;
    clock.advance(1000);
    await memory.create(pod('p1', { cpu: '600m' }));
    await memory.create(pod('p2', { cpu: '600m' }));
    release();
    const report = await pass;
    // p2 fits nowhere once p0 (in flight when p1 and p2 were placed) counts on n1.
    expect(report.actions.sort()).toEqual(['bind default/p0 n1', 'bind default/p1 n2', 'unschedulable default/p2: 0/2 nodes are available: 2 Insufficient cpu.']);
    const p2 = await memory.get('Pod', 'default', 'p2');
    expect(p2?.spec.nodeName).toBeUndefined();
    expect((await memory.list('Event')).filter((e) => e.reason === 'FailedScheduling').map((e) => e.involvedObject.name)).toEqual(['p2']);
  });

  it('does not repeat the same FailedScheduling event every pass', async () => {
    const { clock, client, scheduler } = await setup();
    await client.create(node('n1', { cpu: '1' }));
    await client.create(pod('big', { cpu: '2' }));
    await scheduler.runOnce(clock.nowMs);
    const revision = client.revision;
    await scheduler.runOnce(clock.advance(1000));
    expect(client.revision).toBe(revision);
    await scheduler.runOnce(clock.advance(60_000));
    const events = (await client.list('Event')).filter((e) => e.reason === 'FailedScheduling');
    expect(events).toHaveLength(1);
    expect(events[0].count).toBe(2);
  });

  it('binds by compare-and-set: a pod changed since it was read is not bound', async () => {
    const { client } = await setup();
    await client.create(node('n1'));
    const created = await client.create(pod('p'));
    await client.updateStatus({ ...created, status: { phase: 'Pending', message: 'changed' } });
    await expect(client.bindPod('default', 'p', 'n1', created.metadata.resourceVersion ?? '')).rejects.toMatchObject({ code: 'Conflict' });
    const fresh = await client.get('Pod', 'default', 'p');
    const bound = await client.bindPod('default', 'p', 'n1', fresh?.metadata.resourceVersion ?? '');
    expect(bound.spec.nodeName).toBe('n1');
    await expect(client.bindPod('default', 'p', 'n2', bound.metadata.resourceVersion ?? '')).rejects.toThrow(/already assigned to node "n1"/);
  });

  it('a pass that loses a binding race leaves the pod to the next pass', async () => {
    const clock = new FakeClock();
    let raced = false;
    const client = new MemoryClient({
      now: clock.now,
      beforeWrite: (op) => {
        if (op.verb === 'bind' && !raced) {
          raced = true; // someone else wrote the pod between our read and our bind
          throw new ConflictError('Operation cannot be fulfilled on pods "p": the object has been modified');
        }
      },
    });
    await client.create(node('n1'));
    await client.create(pod('p'));
    const scheduler = new Scheduler(client);
    const report = await scheduler.runOnce(clock.nowMs);
    expect(report.errors).toHaveLength(0);
    expect(report.conflicts).toHaveLength(1);
    expect(report.actions).toHaveLength(0);
    const second = await scheduler.runOnce(clock.advance(1000));
    expect(second.actions).toEqual(['bind default/p n1']);
  });
});
