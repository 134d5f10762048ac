import { describe, expect, it } from 'vitest';
import { ControllerManager, MemoryClient, NotLeaderError, seededRandom } from '../src/index.js';
import { FakeClock, livePods, node, replicaSet } from './helpers.js';

function setup() {
  const clock = new FakeClock();
  let onWrite: (() => void) | undefined;
  const client = new MemoryClient({ now: clock.now, random: seededRandom(1), beforeWrite: () => onWrite?.() });
  const manager = (seed: number) => new ControllerManager(client, { heartbeats: () => clock.nowMs, random: seededRandom(seed) });
  return { clock, client, manager, setOnWrite: (f: (() => void) | undefined) => (onWrite = f) };
}

describe('ControllerManager', () => {
  it('does nothing unless it is the leader', async () => {
    const { clock, client, manager } = setup();
    await client.create(replicaSet('web', 2));
    const m = manager(1);
    expect(await m.tick(clock.nowMs)).toBeUndefined();
    await expect(m.reconcileAll(clock.nowMs)).rejects.toBeInstanceOf(NotLeaderError);
    expect(await client.list('Pod')).toHaveLength(0);
    m.onLeadershipChange(true, clock.nowMs);
    const pass = await m.tick(clock.nowMs);
    expect(pass?.completed).toBe(true);
    expect(pass?.reports.map((r) => r.controller)).toEqual(['node-lifecycle', 'garbage-collector', 'deployment', 'replicaset', 'daemonset', 'endpoints', 'scheduler']);
    expect(await client.list('Pod')).toHaveLength(2);
  });

  it('stops writing the moment leadership is lost, and a new leader finishes with exact counts', async () => {
    const { clock, client, manager, setOnWrite } = setup();
    await client.create(node('n1'));
    await client.create(replicaSet('web', 9));
    const a = manager(1);
    a.onLeadershipChange(true, clock.nowMs);

    // Leader A loses leadership after its third pod create (mid scale-up).
    let creates = 0;
    let writesAfterLoss = 0;
    setOnWrite(() => {
      if (!a.isLeader()) writesAfterLoss++;
    });
    const original = client.create.bind(client);
    client.create = (async (obj) => {
      const created = await original(obj);
      if (obj.kind === 'Pod' && ++creates === 3) a.onLeadershipChange(false, clock.nowMs);
      return created;
    }) as MemoryClient['create'];
    const pass = await a.reconcileAll(clock.nowMs);
    expect(pass.completed).toBe(false);
    expect(writesAfterLoss).toBe(0);
    expect(await client.list('Pod')).toHaveLength(3);
    expect(await a.tick(clock.nowMs)).toBeUndefined();

    // Leader B (another master, fresh memory) resumes from the stored state.
    const b = manager(2);
    b.onLeadershipChange(true, clock.advance(1000));
    await b.reconcileAll(clock.nowMs);
    await b.reconcileAll(clock.advance(1000));
    const pods = livePods(await client.list('Pod'));
    expect(pods).toHaveLength(9);
    expect(new Set(pods.map((p) => p.metadata.name)).size).toBe(9);
    expect(pods.every((p) => p.spec.nodeName === 'n1')).toBe(true);
  });

  it('a pass started before leadership was lost and regained does not write in the new term', async () => {
    const { clock, client, manager } = setup();
    await client.create(replicaSet('web', 3));
    const m = manager(1);
    m.onLeadershipChange(true, clock.nowMs);
    const original = client.list.bind(client);
    let flipped = false;
    client.list = (async (kind, options) => {
      const out = await original(kind, options);
      if (kind === 'ReplicaSet' && !flipped) {
        flipped = true;
        m.onLeadershipChange(false, clock.nowMs);
        m.onLeadershipChange(true, clock.nowMs);
      }
      return out;
    }) as MemoryClient['list'];
    const pass = await m.reconcileAll(clock.nowMs);
    expect(pass.completed).toBe(false);
    expect(await client.list('Pod')).toHaveLength(0);
    const next = await m.tick(clock.nowMs);
    expect(next?.completed).toBe(true);
    expect(await client.list('Pod')).toHaveLength(3);
  });

  it('one controller failing does not stop the others', async () => {
    const { clock, client, manager } = setup();
    await client.create(node('n1'));
    await client.create(replicaSet('web', 1));
    const m = manager(1);
    m.onLeadershipChange(true, clock.nowMs);
    const original = client.list.bind(client);
    client.list = (async (kind, options) => {
      if (kind === 'DaemonSet') throw new Error('daemonsets: store unavailable');
      return original(kind, options);
    }) as MemoryClient['list'];
    const pass = await m.reconcileAll(clock.nowMs);
    expect(pass.completed).toBe(true);
    const failed = pass.reports.find((r) => r.controller === 'daemonset');
    expect(failed?.errors.map((e) => e.message)).toEqual(['daemonsets: store unavailable']);
    expect((await client.list('Pod')).every((p) => p.spec.nodeName === 'n1')).toBe(true);
  });
});
