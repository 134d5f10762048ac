import { describe, expect, it } from 'vitest';
import type { Pod } from '@bramble/api';
import { ownerReferenceTo } from '@bramble/api';
import { GarbageCollector, MemoryClient, ReplicaSetController, seededRandom } from '../src/index.js';
import { deployment, FakeClock, MiniCluster, replicaSet } from './helpers.js';

async function setup() {
  const clock = new FakeClock();
  const client = new MemoryClient({ now: clock.now, random: seededRandom(5) });
  return { clock, client, gc: new GarbageCollector(client), rsController: new ReplicaSetController(client, { random: seededRandom(9) }) };
}

async function names(client: MemoryClient, kind: 'Pod' | 'ReplicaSet' | 'Deployment' | 'ConfigMap'): Promise<string[]> {
  return (await client.list(kind)).map((o) => o.metadata.name ?? '');
}

describe('garbage collector', () => {
  it('background: dependents of a deleted owner are deleted', async () => {
    const { clock, client, gc, rsController } = await setup();
    await client.create(replicaSet('web', 3));
    await rsController.runOnce(clock.nowMs);
    expect(await names(client, 'Pod')).toHaveLength(3);
    await client.delete('ReplicaSet', 'default', 'web'); // background: the set is gone at once
    expect(await names(client, 'ReplicaSet')).toEqual([]);
    const report = await gc.runOnce(clock.nowMs);
    expect(await names(client, 'Pod')).toEqual([]);
    expect(report.actions).toHaveLength(3);
    expect(report.actions[0]).toMatch(/^delete Pod default\/web-\w{5} \(background\): owner ReplicaSet web \(uid uid-\d+\) no longer exists$/);
  });

  it('an object with another live owner only loses the dangling reference', async () => {
    const { clock, client, gc } = await setup();
    const a = await client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } });
    const b = await client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b' } });
    await client.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'shared', ownerReferences: [ownerReferenceTo(a, { controller: false }), ownerReferenceTo(b, { controller: false })] },
    });
    await client.delete('ConfigMap', 'default', 'a');
    await gc.runOnce(clock.nowMs);
    const shared = await client.get('ConfigMap', 'default', 'shared');
    expect(shared?.metadata.ownerReferences?.map((r) => r.name)).toEqual(['b']);
  });

  it('foreground: the owner waits until its blocking dependents are gone, recursively', async () => {
    const c = new MiniCluster({ controllers: ['garbage-collector', 'deployment', 'replicaset', 'scheduler'], clientOptions: { gracefulPodDeletion: true } });
    await c.addNode('n1');
    await c.client.create(deployment('web', 3));
    await c.run(3);
    expect(await c.pods()).toHaveLength(3);

    // Deleting in the foreground marks the deployment; nothing is gone yet.
    await c.client.delete('Deployment', 'default', 'web', { propagation: 'Foreground' });
    const marked = await c.client.get('Deployment', 'default', 'web');
    expect(marked?.metadata.deletionTimestamp).toBeDefined();
    expect(marked?.metadata.finalizers).toEqual(['foregroundDeletion']);

    const seen: string[] = [];
    for (let i = 0; i < 10; i++) {
      await c.manager.reconcileAll(c.clock.advance(1000));
      const deploymentLeft = (await names(c.client, 'Deployment')).length;
      const setsLeft = (await names(c.client, 'ReplicaSet')).length;
      const podsLeft = (await c.client.list('Pod')).length;
      seen.push(`${deploymentLeft}/${setsLeft}/${podsLeft}`);
      // An owner never disappears before its dependents.
      if (podsLeft > 0) expect(setsLeft).toBe(1);
      if (setsLeft > 0) expect(deploymentLeft).toBe(1);
      await c.agents(); // the agent confirms the pods stopped
    }
    // deployment/sets/pods after each pass: pods first, then the set, then the deployment.
    expect(seen.slice(0, 4)).toEqual(['1/1/3', '1/1/3', '1/0/0', '0/0/0']);
    // No replacement pods were created while the set was being deleted.
    expect((await c.client.list('Event')).filter((e) => e.reason === 'SuccessfulCreate')).toHaveLength(3);
  });

  it('orphan: dependents lose their owner reference and stay', async () => {
    const { clock, client, gc, rsController } = await setup();
    await client.create(replicaSet('web', 2));
    await rsController.runOnce(clock.nowMs);
    await client.delete('ReplicaSet', 'default', 'web', { propagation: 'Orphan' });
    expect((await client.get('ReplicaSet', 'default', 'web'))?.metadata.finalizers).toEqual(['orphan']);
    await gc.runOnce(clock.nowMs);
    expect(await names(client, 'ReplicaSet')).toEqual([]);
    const pods = await client.list('Pod');
    expect(pods).toHaveLength(2);
    expect(pods.every((p: Pod) => (p.metadata.ownerReferences ?? []).length === 0)).toBe(true);
  });

  it('never deletes a dependent whose owner it did not list but which exists (fresh read by name and uid)', async () => {
    const { clock, client, rsController } = await setup();
    await client.create(replicaSet('web', 2));
    await rsController.runOnce(clock.nowMs);
    const podsOnly = new GarbageCollector(client, { kinds: ['Pod'] });
    await podsOnly.runOnce(clock.nowMs);
    expect(await names(client, 'Pod')).toHaveLength(2);

    // Same name, new uid: the pods' owner is gone.
    await client.delete('ReplicaSet', 'default', 'web');
    await client.create(replicaSet('web', 0));
    await podsOnly.runOnce(clock.nowMs);
    expect(await names(client, 'Pod')).toEqual([]);
  });
});
