import { describe, expect, it } from 'vitest';
import type { Deployment, Pod, ReplicaSet } from '@bramble/api';
import { podTemplateHash } from '@bramble/api';
import {
  DESIRED_REPLICAS_ANNOTATION,
  getCondition,
  MAX_REPLICAS_ANNOTATION,
  maxUnavailable,
  newRSNewReplicas,
  parseTime,
  planOldReplicaSetsScaleDown,
  proportionalSizes,
  resolveFenceposts,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
} from '../src/index.js';
import { deployment, MiniCluster, livePods } from './helpers.js';

const CONTROLLERS = ['deployment', 'replicaset', 'scheduler'] as const;

async function cluster(options: { nodes?: number; graceful?: boolean } = {}): Promise<MiniCluster> {
  const c = new MiniCluster({ controllers: [...CONTROLLERS], clientOptions: { gracefulPodDeletion: options.graceful ?? false } });
  for (let i = 1; i <= (options.nodes ?? 3); i++) await c.addNode(`node-${i}`, { cpu: '16', memory: '16Gi' });
  return c;
}

async function getDeployment(c: MiniCluster, name = 'web'): Promise<Deployment> {
  return (await c.client.get('Deployment', 'default', name))!;
}

async function setsOf(c: MiniCluster, d: Deployment): Promise<ReplicaSet[]> {
  return (await c.client.list('ReplicaSet')).filter((rs) => rs.metadata.ownerReferences?.some((r) => r.uid === d.metadata.uid));
}

async function changeDeployment(c: MiniCluster, change: (d: Deployment) => void, name = 'web'): Promise<Deployment> {
  const d = structuredClone(await getDeployment(c, name));
  change(d);
  return c.client.update(d);
}

function setVersion(version: string) {
  return (d: Deployment) => {
    d.spec.template.spec.containers[0].image = `web:${version}`;
  };
}

function isAvailable(p: Pod, minReadySeconds: number, nowMs: number): boolean {
  const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') return false;
  return (parseTime(ready.lastTransitionTime) ?? 0) + minReadySeconds * 1000 <= nowMs;
}

async function converge(c: MiniCluster, done: () => Promise<boolean>, maxSteps = 100, check?: () => Promise<void>): Promise<number> {
  for (let i = 1; i <= maxSteps; i++) {
    await c.step(1000);
    if (check) await check();
    if (await done()) return i;
  }
  throw new Error(`did not converge in ${maxSteps} steps`);
}

async function complete(c: MiniCluster, name = 'web'): Promise<boolean> {
  const d = await getDeployment(c, name);
  const replicas = d.spec.replicas ?? 1;
  const s = d.status;
  return (
    s?.updatedReplicas === replicas &&
    s.replicas === replicas &&
    s.availableReplicas === replicas &&
    s.observedGeneration === d.metadata.generation &&
    (await c.pods()).filter((p) => p.status?.phase === 'Running').length === replicas
  );
}

describe('deployment planning (pure)', () => {
  it('rounds maxSurge up and maxUnavailable down', () => {
    expect(resolveFenceposts(deployment('d', 10))).toEqual({ maxSurge: 3, maxUnavailable: 2 });
    expect(resolveFenceposts(deployment('d', 1))).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    expect(resolveFenceposts(deployment('d', 4, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '50%', maxUnavailable: '50%' } } }))).toEqual({
      maxSurge: 2,
      maxUnavailable: 2,
    });
    // Both 0 after rounding: maxUnavailable becomes 1 so the rollout can move.
    expect(resolveFenceposts(deployment('d', 5, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '10%' } } }))).toEqual({
      maxSurge: 0,
      maxUnavailable: 1,
    });
    expect(maxUnavailable(deployment('d', 3, { strategy: { type: 'Recreate' } }))).toBe(0);
  });

  function rs(name: string, replicas: number, available: number, created: number, annotations: Record<string, string> = {}): ReplicaSet {
    return {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name, uid: name, generation: 1, creationTimestamp: new Date(created * 1000).toISOString(), annotations },
      spec: { replicas, selector: {}, template: { spec: { containers: [] } } },
      status: { replicas, availableReplicas: available, observedGeneration: 1 },
    };
  }

  it('new set grows up to replicas + maxSurge', () => {
    const d = deployment('d', 10, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } } });
    const old = rs('old', 10, 10, 0);
    const fresh = rs('new', 0, 0, 1);
    expect(newRSNewReplicas(d, [old, fresh], fresh)).toBe(3);
    expect(newRSNewReplicas(d, [rs('old', 8, 8, 0), rs('new', 5, 0, 1)], rs('new', 5, 0, 1))).toBe(5);
  });

  it('old sets shrink only down to replicas - maxUnavailable available pods, unhealthy ones first', () => {
    const d = deployment('d', 10, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } } });
    // Start of a rollout: old 10 available, new 3 not yet available: 2 old may go.
    expect(planOldReplicaSetsScaleDown(d, [rs('old', 10, 10, 0)], rs('new', 3, 0, 1))).toEqual([{ name: 'old', replicas: 8 }]);
    // Old set has 2 unavailable pods: they go first, and they do not use the budget.
    expect(planOldReplicaSetsScaleDown(d, [rs('old', 10, 8, 0)], rs('new', 3, 0, 1))).toEqual([{ name: 'old', replicas: 8 }]);
    // New pods not ready and budget spent: nothing.
    expect(planOldReplicaSetsScaleDown(d, [rs('old', 8, 8, 0)], rs('new', 5, 0, 1))).toEqual([]);
  });

  it('proportional scaling shares new replicas by size (Kubernetes documentation example)', () => {
    const d = deployment('d', 15, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } } });
    const annotations = { [MAX_REPLICAS_ANNOTATION]: '13', [DESIRED_REPLICAS_ANNOTATION]: '10' };
    const sizes = proportionalSizes(d, [rs('old', 8, 8, 0, annotations), rs('new', 5, 0, 1, annotations)]);
    expect(Object.fromEntries(sizes)).toEqual({ old: 11, new: 7 });
  });
});

describe('Deployment controller', () => {
  it('creates <name>-<pod-template-hash> with the revision annotations and a ScalingReplicaSet event', async () => {
    const c = await cluster();
    const d = await c.client.create(deployment('web', 3));
    await c.step();
    const sets = await setsOf(c, d);
    expect(sets).toHaveLength(1);
    const hash = podTemplateHash(d.spec.template);
    expect(sets[0].metadata.name).toBe(`web-${hash}`);
    expect(sets[0].metadata.labels).toEqual({ app: 'web', 'pod-template-hash': hash });
    expect(sets[0].spec.selector.matchLabels).toEqual({ app: 'web', 'pod-template-hash': hash });
    expect(sets[0].metadata.annotations).toEqual({
      [REVISION_ANNOTATION]: '1',
      [DESIRED_REPLICAS_ANNOTATION]: '3',
      [MAX_REPLICAS_ANNOTATION]: '4',
    });
    expect(sets[0].spec.replicas).toBe(3);
    expect((await getDeployment(c)).metadata.annotations?.[REVISION_ANNOTATION]).toBe('1');
    const events = (await c.client.list('Event')).filter((e) => e.reason === 'ScalingReplicaSet');
    expect(events.map((e) => e.message)).toEqual([`Scaled up replica set web-${hash} to 3`]);
    expect(events[0].involvedObject).toMatchObject({ kind: 'Deployment', name: 'web' });
    const pods = await c.pods();
    expect(pods).toHaveLength(3);
    expect(pods.every((p) => p.metadata.labels?.['pod-template-hash'] === hash)).toBe(true);

    await converge(c, () => complete(c));
    const status = (await getDeployment(c)).status;
    expect(status).toMatchObject({ observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 0 });
    expect(getCondition(status?.conditions, 'Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable' });
    expect(getCondition(status?.conditions, 'Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable' });
  });

  it('scales 6 -> 1 -> 9 with exact pod counts', async () => {
    const c = await cluster();
    await c.client.create(deployment('web', 6));
    await converge(c, () => complete(c));
    expect(await c.pods()).toHaveLength(6);
    await changeDeployment(c, (d) => (d.spec.replicas = 1));
    await converge(c, () => complete(c));
    expect(await c.pods()).toHaveLength(1);
    await changeDeployment(c, (d) => (d.spec.replicas = 9));
    await converge(c, () => complete(c));
    expect(await c.pods()).toHaveLength(9);
    const d = await getDeployment(c);
    expect(await setsOf(c, d)).toHaveLength(1);
    const messages = (await c.client.list('Event')).filter((e) => e.reason === 'ScalingReplicaSet').map((e) => e.message?.replace(/web-\w+/, 'web-<hash>'));
    expect(messages).toEqual(['Scaled up replica set web-<hash> to 6', 'Scaled down replica set web-<hash> to 1', 'Scaled up replica set web-<hash> to 9']);
  });

  for (const [label, rollingUpdate] of [
    ['numbers', { maxSurge: 3, maxUnavailable: 2 }],
    ['percentages', { maxSurge: '25%', maxUnavailable: '25%' }],
  ] as const) {
    for (const minReadySeconds of [0, 3]) {
      it(`RollingUpdate (${label}, minReadySeconds ${minReadySeconds}) keeps within maxSurge and maxUnavailable at every step`, async () => {
        const c = await cluster();
        c.readyAfterMs = 2000;
        await c.client.create(deployment('web', 10, { strategy: { type: 'RollingUpdate', rollingUpdate: { ...rollingUpdate } }, minReadySeconds }));
        await converge(c, () => complete(c));
        const before = await c.pods();
        expect(before).toHaveLength(10);

        await changeDeployment(c, setVersion('2'));
        let maxTotal = 0;
        let minAvailable = Infinity;
        const steps = await converge(
          c,
          async () => (await complete(c)) && (await c.pods()).every((p) => p.spec.containers[0].image === 'web:2'),
          200,
          async () => {
            const pods = await c.pods();
            maxTotal = Math.max(maxTotal, pods.length);
            const available = pods.filter((p) => isAvailable(p, minReadySeconds, c.clock.nowMs)).length;
            minAvailable = Math.min(minAvailable, available);
            expect(pods.length, 'pods above replicas + maxSurge').toBeLessThanOrEqual(13);
            expect(available, 'available pods below replicas - maxUnavailable').toBeGreaterThanOrEqual(8);
          },
        );
        // The budgets were used, not just respected.
        expect(maxTotal).toBe(13);
        expect(minAvailable).toBe(8);
        expect(steps).toBeGreaterThan(3);
        const d = await getDeployment(c);
        const sets = await setsOf(c, d);
        expect(sets).toHaveLength(2);
        const newRS = sets.find((rs) => rs.metadata.annotations?.[REVISION_ANNOTATION] === '2');
        const oldRS = sets.find((rs) => rs.metadata.annotations?.[REVISION_ANNOTATION] === '1');
        expect(newRS?.spec.replicas).toBe(10);
        expect(oldRS?.spec.replicas).toBe(0);
        expect(d.metadata.annotations?.[REVISION_ANNOTATION]).toBe('2');
        expect(d.status).toMatchObject({ replicas: 10, updatedReplicas: 10, availableReplicas: 10 });
        expect(getCondition(d.status?.conditions, 'Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable' });
      });
    }
  }

  it('Recreate: old pods are all gone before the new set is created', async () => {
    const c = await cluster({ graceful: true });
    c.readyAfterMs = 1000;
    await c.client.create(deployment('web', 4, { strategy: { type: 'Recreate' } }));
    await converge(c, () => complete(c));
    const oldPods = new Set((await c.pods()).map((p) => p.metadata.name));
    const writesBefore = c.client.writes.length;
    await changeDeployment(c, setVersion('2'));
    await converge(
      c,
      async () => (await complete(c)) && (await c.pods()).every((p) => p.spec.containers[0].image === 'web:2'),
      50,
      async () => {
        const all = await c.client.list('Pod'); // terminating ones included
        const versions = new Set(all.map((p) => p.spec.containers[0].image));
        expect(versions.size, 'old and new pods at the same time').toBeLessThanOrEqual(1);
      },
    );
    const writes = c.client.writes.slice(writesBefore);
    const createdSet = writes.findIndex((w) => w.verb === 'create' && w.kind === 'ReplicaSet');
    const lastOldPodDelete = writes.reduce((last, w, i) => (w.verb === 'delete' && w.kind === 'Pod' && oldPods.has(w.name) ? i : last), -1);
    expect(createdSet).toBeGreaterThan(-1);
    // Each old pod is deleted twice: marked by the ReplicaSet controller, removed by its agent.
    expect(writes.filter((w) => w.verb === 'delete' && oldPods.has(w.name))).toHaveLength(8);
    expect(lastOldPodDelete).toBeLessThan(createdSet);
    expect(await c.pods()).toHaveLength(4);
  });

  it('rollback reuses the old ReplicaSet and gives it the next revision', async () => {
    const c = await cluster();
    const d0 = await c.client.create(deployment('web', 2));
    await converge(c, () => complete(c));
    const [v1] = await setsOf(c, d0);
    await changeDeployment(c, setVersion('2'));
    await converge(c, () => complete(c));
    await changeDeployment(c, setVersion('1'));
    await converge(c, async () => (await complete(c)) && (await c.pods()).every((p) => p.spec.containers[0].image === 'web:1'));
    const d = await getDeployment(c);
    const sets = await setsOf(c, d);
    expect(sets).toHaveLength(2);
    const back = sets.find((rs) => rs.metadata.uid === v1.metadata.uid);
    expect(back?.metadata.name).toBe(v1.metadata.name);
    expect(back?.metadata.annotations?.[REVISION_ANNOTATION]).toBe('3');
    expect(back?.metadata.annotations?.[REVISION_HISTORY_ANNOTATION]).toBe('1');
    expect(back?.spec.replicas).toBe(2);
    expect(d.metadata.annotations?.[REVISION_ANNOTATION]).toBe('3');
    const v2 = sets.find((rs) => rs.metadata.uid !== v1.metadata.uid);
    expect(v2?.metadata.annotations?.[REVISION_ANNOTATION]).toBe('2');
    expect(v2?.spec.replicas).toBe(0);
  });

  it('revisionHistoryLimit deletes the oldest scaled-down sets', async () => {
    const c = await cluster();
    await c.client.create(deployment('web', 2, { revisionHistoryLimit: 1 }));
    await converge(c, () => complete(c));
    for (const version of ['2', '3', '4']) {
      await changeDeployment(c, setVersion(version));
      await converge(c, async () => (await complete(c)) && (await c.pods()).every((p) => p.spec.containers[0].image === `web:${version}`));
      await c.step();
    }
    const d = await getDeployment(c);
    const sets = await setsOf(c, d);
    expect(sets.map((rs) => rs.metadata.annotations?.[REVISION_ANNOTATION]).sort()).toEqual(['3', '4']);
  });

  it('paused: a template change makes no new set, scaling still works, resuming rolls out', async () => {
    const c = await cluster();
    await c.client.create(deployment('web', 2));
    await converge(c, () => complete(c));
    await changeDeployment(c, (d) => {
      d.spec.paused = true;
      setVersion('2')(d);
    });
    await c.run(3);
    let d = await getDeployment(c);
    expect(await setsOf(c, d)).toHaveLength(1);
    expect(getCondition(d.status?.conditions, 'Progressing')).toMatchObject({ status: 'Unknown', reason: 'DeploymentPaused' });
    await changeDeployment(c, (x) => (x.spec.replicas = 4));
    await c.run(3);
    expect((await c.pods()).filter((p) => p.spec.containers[0].image === 'web:1')).toHaveLength(4);
    await changeDeployment(c, (x) => (x.spec.paused = false));
    await converge(c, async () => (await complete(c)) && (await c.pods()).every((p) => p.spec.containers[0].image === 'web:2'));
    d = await getDeployment(c);
    expect(await setsOf(c, d)).toHaveLength(2);
    expect(getCondition(d.status?.conditions, 'Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable' });
  });

  it('progressDeadlineSeconds: a rollout that stops progressing gets ProgressDeadlineExceeded', async () => {
    const c = await cluster();
    await c.client.create(deployment('web', 2, { progressDeadlineSeconds: 10 }));
    await converge(c, () => complete(c));
    c.readyAfterMs = Number.POSITIVE_INFINITY; // the new version never becomes ready
    await changeDeployment(c, setVersion('broken'));
    await c.step();
    expect(getCondition((await getDeployment(c)).status?.conditions, 'Progressing')).toMatchObject({ status: 'True' });
    await c.run(8);
    expect(getCondition((await getDeployment(c)).status?.conditions, 'Progressing')?.reason).toBe('ReplicaSetUpdated');
    await c.run(5);
    const condition = getCondition((await getDeployment(c)).status?.conditions, 'Progressing');
    expect(condition).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
    expect(condition?.message).toMatch(/^ReplicaSet "web-\w+" has timed out progressing\.$/);
    // The old pods are still serving: only maxUnavailable (0 of 2) could go.
    expect(livePods(await c.client.list('Pod')).filter((p) => p.spec.containers[0].image === 'web:1' && p.status?.phase === 'Running')).toHaveLength(2);
  });

  it('a second pass right after convergence writes nothing', async () => {
    const c = await cluster();
    await c.client.create(deployment('web', 3));
    await converge(c, () => complete(c));
    await c.step(0);
    const revision = c.client.revision;
    await c.manager.reconcileAll(c.clock.nowMs);
    expect(c.client.revision).toBe(revision);
  });
});
