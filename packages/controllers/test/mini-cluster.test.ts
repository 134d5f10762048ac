/**
 * End to end in one process: MemoryClient + every controller on a fake clock,
 * with simulated agents that heartbeat, run the pods bound to them and stop
 * when killed. These are the cluster tests at the controller level.
 */
import { describe, expect, it } from 'vitest';
import { ControllerManager, seededRandom } from '../src/index.js';
import { countBy, daemonSet, deployment, MiniCluster, pod } from './helpers.js';

async function threeNodes(): Promise<MiniCluster> {
  const c = new MiniCluster();
  for (const name of ['node-1', 'node-2', 'node-3']) await c.addNode(name);
  await c.step(); // node lifecycle: Ready
  return c;
}

async function running(c: MiniCluster) {
  return (await c.pods()).filter((p) => p.status?.phase === 'Running' && p.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'));
}

describe('mini cluster', () => {
  it('a Deployment of 6 on 3 nodes runs 2 per node; killing a node moves its pods within 15 s, exactly 6, no duplicates', async () => {
    const c = await threeNodes();
    await c.client.create(deployment('web', 6));
    await c.run(3);
    expect(countBy(await running(c), (p) => p.spec.nodeName ?? '')).toEqual({ 'node-1': 2, 'node-2': 2, 'node-3': 2 });

    c.kill('node-2');
    const killedAt = c.clock.nowMs;
    let recoveredAfterMs: number | undefined;
    for (let i = 0; i < 20; i++) {
      await c.step(500);
      const all = await c.client.list('Pod');
      // Never more than 6 live pods, and never a terminating leftover.
      expect((await c.pods()).length).toBeLessThanOrEqual(6);
      expect(all.length).toBeLessThanOrEqual(6 + 2);
      const pods = await running(c);
      if (recoveredAfterMs === undefined && pods.length === 6 && pods.every((p) => p.spec.nodeName !== 'node-2')) recoveredAfterMs = c.clock.nowMs - killedAt;
    }
    expect(recoveredAfterMs).toBeDefined();
    expect(recoveredAfterMs!).toBeLessThanOrEqual(15_000);
    // Grace 4 s + eviction 5 s, then recreate, bind and start.
    expect(recoveredAfterMs!).toBeGreaterThan(9_000);

    const pods = await c.pods();
    expect(pods).toHaveLength(6);
    expect(await c.client.list('Pod')).toHaveLength(6);
    expect(new Set(pods.map((p) => p.metadata.name)).size).toBe(6);
    expect(countBy(pods, (p) => p.spec.nodeName ?? '')).toEqual({ 'node-1': 3, 'node-3': 3 });
    const node2 = await c.client.get('Node', undefined, 'node-2');
    expect(node2?.status?.conditions?.find((x) => x.type === 'Ready')?.status).toBe('Unknown');
    const reasons = new Set((await c.client.list('Event')).map((e) => e.reason));
    for (const r of ['Scheduled', 'SuccessfulCreate', 'ScalingReplicaSet', 'NodeNotReady', 'NodeControllerEviction']) expect(reasons).toContain(r);
  });

  it('scale 6 -> 1 -> 9: exact counts, spread over nodes', async () => {
    const c = await threeNodes();
    await c.client.create(deployment('web', 6));
    await c.run(3);
    for (const [replicas, perNode] of [
      [1, undefined],
      [9, { 'node-1': 3, 'node-2': 3, 'node-3': 3 }],
    ] as const) {
      const d = (await c.client.get('Deployment', 'default', 'web'))!;
      await c.client.update({ ...d, spec: { ...d.spec, replicas } });
      await c.run(3);
      const pods = await running(c);
      expect(pods).toHaveLength(replicas);
      if (perNode) expect(countBy(pods, (p) => p.spec.nodeName ?? '')).toEqual(perNode);
    }
  });

  it('a pod that fits nowhere stays Pending with FailedScheduling, then runs once a big node joins', async () => {
    const c = await threeNodes();
    await c.client.create(pod('huge', { cpu: '16', memory: '1Gi' }));
    await c.run(3);
    const pending = await c.client.get('Pod', 'default', 'huge');
    expect(pending?.spec.nodeName).toBeUndefined();
    expect(pending?.status?.phase).toBe('Pending');
    const failed = (await c.client.list('Event')).filter((e) => e.reason === 'FailedScheduling');
    expect(failed.map((e) => e.message)).toEqual(['0/3 nodes are available: 3 Insufficient cpu.']);

    await c.addNode('big', { cpu: '32', memory: '64Gi' });
    await c.run(2);
    const placed = await c.client.get('Pod', 'default', 'huge');
    expect(placed?.spec.nodeName).toBe('big');
    expect(placed?.status?.phase).toBe('Running');
  });

  it('a DaemonSet runs on every node, including one added later', async () => {
    const c = await threeNodes();
    await c.client.create(daemonSet('node-exporter'));
    await c.run(2);
    expect(countBy(await running(c), (p) => p.spec.nodeName ?? '')).toEqual({ 'node-1': 1, 'node-2': 1, 'node-3': 1 });
    await c.addNode('node-4');
    await c.run(2);
    expect(countBy(await running(c), (p) => p.spec.nodeName ?? '')).toEqual({ 'node-1': 1, 'node-2': 1, 'node-3': 1, 'node-4': 1 });
  });

  it('the leader dies during a scale-up; the next leader reaches the exact count with no duplicates', async () => {
    const c = await threeNodes();
    await c.client.create(deployment('web', 3));
    await c.run(3);
    const d = (await c.client.get('Deployment', 'default', 'web'))!;
    await c.client.update({ ...d, spec: { ...d.spec, replicas: 12 } });

    // The leader is "killed" after its 4th pod create of the scale-up. Creates go out in
    // concurrent slow-start batches: those already in flight finish, no new one starts.
    let started = 0;
    let creates = 0;
    let startedAtLoss = -1;
    const create = c.client.create.bind(c.client);
    c.client.create = (async (obj) => {
      if (obj.kind === 'Pod') started++;
      const out = await create(obj);
      if (obj.kind === 'Pod' && ++creates === 4) {
        c.manager.onLeadershipChange(false, c.clock.nowMs);
        startedAtLoss = started;
      }
      return out;
    }) as typeof c.client.create;
    await c.step();
    expect(started).toBe(startedAtLoss);
    expect(startedAtLoss).toBeLessThan(9);
    expect(await c.pods()).toHaveLength(3 + startedAtLoss);

    const next = new ControllerManager(c.client, { heartbeats: (n) => c.heartbeats.get(n), random: seededRandom(99) });
    next.onLeadershipChange(true, c.clock.nowMs);
    for (let i = 0; i < 4; i++) {
      c.clock.advance(1000);
      await c.agents();
      await next.tick(c.clock.nowMs);
    }
    const pods = await running(c);
    expect(pods).toHaveLength(12);
    expect(new Set(pods.map((p) => p.metadata.name)).size).toBe(12);
    expect(countBy(pods, (p) => p.spec.nodeName ?? '')).toEqual({ 'node-1': 4, 'node-2': 4, 'node-3': 4 });
  });
});
