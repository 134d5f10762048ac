// Deployment rollouts against Kubernetes' semantics (issue 6 item 1): budgets, status
// fields, conditions, revisions and annotations, on the in-process MiniCluster.
import { describe, expect, it } from 'vitest';
import type { Deployment, DeploymentStatus, ReplicaSet } from '@bramble/api';
import { LAST_APPLIED_ANNOTATION } from '@bramble/api';
import {
  appendRevisionHistory,
  calculateStatus,
  CHANGE_CAUSE_ANNOTATION,
  DeploymentController,
  getCondition,
  isoTime,
  MAX_REPLICAS_ANNOTATION,
  maxSurge,
  maxUnavailable,
  proportionalSizes,
  resolveFenceposts,
  RESTARTED_AT_ANNOTATION,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  setCondition,
  setNewReplicaSetAnnotations,
} from '../src/index.js';
import { deployment, MiniCluster } from './helpers.js';

const CONTROLLERS = ['deployment', 'replicaset', 'scheduler'] as const;

/**
 * The MiniCluster with per-image readiness: pods whose first container runs an image in
 * `broken` run but never become Ready (the helper's `readyAfterMs = Infinity` would make
 * every pod, old ones too, unready).
 */
class RolloutCluster extends MiniCluster {
  readonly broken = new Set<string>();
  private readonly firstSeen = new Map<string, number>();

  override async agents(): Promise<void> {
    const now = this.clock.nowMs;
    for (const n of await this.client.list('Node')) {
      const name = n.metadata.name ?? '';
      if (this.dead.has(name)) continue;
      this.heartbeats.set(name, now);
      for (const p of await this.client.list('Pod', { fieldSelector: `spec.nodeName=${name}` })) {
        if (p.metadata.deletionTimestamp) {
          await this.client.delete('Pod', p.metadata.namespace, p.metadata.name ?? '', { gracePeriodSeconds: 0 });
          continue;
        }
        const uid = p.metadata.uid ?? '';
        if (!this.firstSeen.has(uid)) this.firstSeen.set(uid, now);
        const ready = !this.broken.has(p.spec.containers[0].image ?? '') && now - (this.firstSeen.get(uid) ?? now) >= this.readyAfterMs;
        const isReady = getCondition(p.status?.conditions, 'Ready')?.status === 'True';
        if (p.status?.phase === 'Running' && isReady === ready) continue;
        const conditions = setCondition(p.status?.conditions, { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: isoTime(now) });
        await this.client.updateStatus({ ...p, status: { ...p.status, phase: 'Running', conditions } });
      }
    }
  }
}

async function cluster(graceful = false): Promise<RolloutCluster> {
  const c = new RolloutCluster({ controllers: [...CONTROLLERS], clientOptions: { gracefulPodDeletion: graceful } });
  for (let i = 1; i <= 3; i++) await c.addNode(`node-${i}`, { cpu: '16', memory: '16Gi' });
  return c;
}

async function get(c: MiniCluster, name = 'web'): Promise<Deployment> {
  return (await c.client.get('Deployment', 'default', name))!;
}

async function setsOf(c: MiniCluster, name = 'web'): Promise<ReplicaSet[]> {
  const d = await get(c, name);
  return (await c.client.list('ReplicaSet')).filter((rs) => rs.metadata.ownerReferences?.some((r) => r.uid === d.metadata.uid));
}

async function change(c: MiniCluster, fn: (d: Deployment) => void, name = 'web'): Promise<Deployment> {
  const d = structuredClone(await get(c, name));
  fn(d);
  return c.client.update(d);
}

const image = (v: string) => (d: Deployment) => {
  d.spec.template.spec.containers[0].image = `web:${v}`;
};

function revisionOfSet(rs: ReplicaSet): string | undefined {
  return rs.metadata.annotations?.[REVISION_ANNOTATION];
}

async function rolledOut(c: MiniCluster, version: string, name = 'web'): Promise<boolean> {
  const d = await get(c, name);
  const replicas = d.spec.replicas ?? 1;
  const s = d.status;
  const pods = await c.pods();
  return (
    s?.observedGeneration === d.metadata.generation &&
    s.updatedReplicas === replicas &&
    s.replicas === replicas &&
    s.availableReplicas === replicas &&
    pods.length === replicas &&
    pods.every((p) => p.spec.containers[0].image === `web:${version}`)
  );
}

async function until(c: MiniCluster, done: () => Promise<boolean>, maxSteps = 100, each?: () => Promise<void>): Promise<number> {
  for (let i = 1; i <= maxSteps; i++) {
    await c.step(1000);
    if (each) await each();
    if (await done()) return i;
  }
  throw new Error(`not done after ${maxSteps} steps`);
}

describe('maxSurge / maxUnavailable (surge rounds up, unavailable rounds down)', () => {
  const rolling = (replicas: number, maxSurge: number | string, maxUnavailable: number | string) =>
    deployment('d', replicas, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge, maxUnavailable } } });

  it.each([
    // replicas, surge, unavailable -> resolved surge, unavailable
    [10, '25%', '25%', 3, 2],
    [4, '25%', '25%', 1, 1],
    [3, '25%', '25%', 1, 0],
    [3, '34%', '34%', 2, 1],
    [7, '10%', '90%', 1, 6],
    [10, 2, '50%', 2, 5],
    [10, '0%', 3, 0, 3],
    [5, 0, '10%', 0, 1], // both 0 after rounding: unavailable becomes 1
    [3, '100%', '100%', 3, 3],
  ] as const)('replicas %i, maxSurge %s, maxUnavailable %s -> %i / %i', (replicas, s, u, surge, unavailable) => {
    expect(resolveFenceposts(rolling(replicas, s, u))).toEqual({ maxSurge: surge, maxUnavailable: unavailable });
  });

  it('maxUnavailable never exceeds replicas and is 0 for 0 replicas or Recreate', () => {
    expect(maxUnavailable(rolling(2, 0, 5))).toBe(2);
    expect(maxUnavailable(rolling(0, 1, 1))).toBe(0);
    expect(maxUnavailable(deployment('d', 3, { strategy: { type: 'Recreate' } }))).toBe(0);
    expect(maxSurge(deployment('d', 3, { strategy: { type: 'Recreate' } }))).toBe(0);
  });

  it('defaults to 25% / 25% when the strategy leaves them out', () => {
    expect(resolveFenceposts(deployment('d', 8))).toEqual({ maxSurge: 2, maxUnavailable: 2 });
  });
});

describe('status fields as Kubernetes defines them', () => {
  function rs(name: string, spec: number, status: { replicas: number; ready: number; available: number }): ReplicaSet {
    return {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name, uid: name },
      spec: { replicas: spec, selector: {}, template: { spec: { containers: [] } } },
      status: { replicas: status.replicas, readyReplicas: status.ready, availableReplicas: status.available },
    };
  }

  it('replicas/ready/available sum the sets, updated is the new set, unavailable = desired pods - available', () => {
    const d = deployment('web', 4, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } } });
    d.metadata.generation = 7;
    const oldRS = rs('old', 2, { replicas: 3, ready: 3, available: 3 }); // one pod still terminating
    const newRS = rs('new', 3, { replicas: 3, ready: 2, available: 1 });
    const status = calculateStatus([oldRS, newRS], newRS, d, Date.UTC(2024, 0, 1));
    expect(status).toMatchObject({ observedGeneration: 7, replicas: 6, updatedReplicas: 3, readyReplicas: 5, availableReplicas: 4, unavailableReplicas: 1 });
    // 4 available >= 4 - 1: the Deployment has minimum availability.
    expect(getCondition(status.conditions, 'Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable' });
    const worse = calculateStatus([rs('old', 2, { replicas: 2, ready: 2, available: 1 }), newRS], newRS, d, Date.UTC(2024, 0, 1));
    expect(worse.availableReplicas).toBe(2);
    expect(getCondition(worse.conditions, 'Available')).toMatchObject({ status: 'False', reason: 'MinimumReplicasUnavailable' });
  });

  it('minReadySeconds: ready pods count as available only after that long', async () => {
    const c = await cluster();
    c.readyAfterMs = 1000;
    await c.client.create(deployment('web', 3, { minReadySeconds: 5 }));
    const seen: DeploymentStatus[] = [];
    await until(
      c,
      () => rolledOut(c, '1'),
      40,
      async () => {
        seen.push(structuredClone((await get(c)).status ?? {}));
      },
    );
    // Some pass saw every pod ready while none was available yet.
    expect(seen.some((s) => s.readyReplicas === 3 && (s.availableReplicas ?? 0) === 0)).toBe(true);
    const firstReady = seen.findIndex((s) => s.readyReplicas === 3);
    const firstAvailable = seen.findIndex((s) => s.availableReplicas === 3);
    expect(firstAvailable - firstReady).toBeGreaterThanOrEqual(4);
    const s = (await get(c)).status!;
    expect(s).toMatchObject({ replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 0 });
  });

  it('during a rolling update the status always matches the owned sets by those definitions', async () => {
    const c = await cluster();
    c.readyAfterMs = 2000;
    const controller = new DeploymentController(c.client);
    await c.client.create(deployment('web', 4, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } }));
    await until(c, () => rolledOut(c, '1'));
    await change(c, image('2'));
    let sawSurgeUnavailable = false;
    await until(
      c,
      () => rolledOut(c, '2'),
      100,
      async () => {
        // One more Deployment pass over the sets as they are now (their statuses are current after the step).
        await controller.runOnce(c.clock.nowMs);
        const d = await get(c);
        const sets = await setsOf(c);
        const newRS = sets.find((rs) => revisionOfSet(rs) === d.metadata.annotations?.[REVISION_ANNOTATION]);
        const sum = (f: (rs: ReplicaSet) => number) => sets.reduce((n, rs) => n + f(rs), 0);
        const available = sum((rs) => rs.status?.availableReplicas ?? 0);
        expect(d.status).toMatchObject({
          observedGeneration: d.metadata.generation,
          replicas: sum((rs) => rs.status?.replicas ?? 0),
          updatedReplicas: newRS?.status?.replicas ?? 0,
          readyReplicas: sum((rs) => rs.status?.readyReplicas ?? 0),
          availableReplicas: available,
          unavailableReplicas: Math.max(0, sum((rs) => rs.spec.replicas ?? 1) - available),
        });
        expect(available, 'maxUnavailable 0').toBeGreaterThanOrEqual(4);
        expect(getCondition(d.status?.conditions, 'Available')?.status).toBe('True');
        if ((d.status?.unavailableReplicas ?? 0) > 0) sawSurgeUnavailable = true;
      },
    );
    // The surge pod is desired but not available while it starts.
    expect(sawSurgeUnavailable).toBe(true);
    expect((await get(c)).status).toMatchObject({ replicas: 4, updatedReplicas: 4, readyReplicas: 4, availableReplicas: 4, unavailableReplicas: 0 });
  });
});

describe('Progressing condition', () => {
  it('NewReplicaSetCreated -> ReplicaSetUpdated -> NewReplicaSetAvailable, then again for the next rollout', async () => {
    const c = await cluster();
    c.readyAfterMs = 2000;
    await c.client.create(deployment('web', 3, { progressDeadlineSeconds: 60 }));
    await c.step();
    const created = getCondition((await get(c)).status?.conditions, 'Progressing');
    expect(created).toMatchObject({ status: 'True', reason: 'NewReplicaSetCreated' });
    expect(created?.message).toMatch(/^Created new replica set "web-\w+"$/);
    const reasons = new Set<string>();
    await until(
      c,
      () => rolledOut(c, '1'),
      50,
      async () => {
        reasons.add(getCondition((await get(c)).status?.conditions, 'Progressing')?.reason ?? '');
      },
    );
    expect(reasons).toContain('ReplicaSetUpdated');
    await c.step();
    const done = getCondition((await get(c)).status?.conditions, 'Progressing');
    expect(done).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable' });
    expect(done?.message).toMatch(/^ReplicaSet "web-\w+" has successfully progressed\.$/);

    await change(c, image('2'));
    await c.step();
    expect(getCondition((await get(c)).status?.conditions, 'Progressing')?.reason).toBe('NewReplicaSetCreated');
    await until(c, () => rolledOut(c, '2'));
    await c.step();
    expect(getCondition((await get(c)).status?.conditions, 'Progressing')?.reason).toBe('NewReplicaSetAvailable');
  });

  it('FoundNewReplicaSet when the new set exists but no Progressing condition was recorded', async () => {
    const c = await cluster();
    await c.client.create(deployment('web', 2, { progressDeadlineSeconds: 60 }));
    await until(c, () => rolledOut(c, '1'));
    c.broken.add('web:2'); // a rollout that makes no progress, so nothing overwrites the condition
    await change(c, image('2'));
    await c.run(3);
    const d = await get(c);
    await c.client.updateStatus({ ...d, status: { ...d.status, conditions: d.status?.conditions?.filter((x) => x.type !== 'Progressing') } });
    await c.step();
    const condition = getCondition((await get(c)).status?.conditions, 'Progressing');
    expect(condition).toMatchObject({ status: 'True', reason: 'FoundNewReplicaSet' });
    expect(condition?.message).toMatch(/^Found new replica set "web-\w+"$/);
  });

  it('ProgressDeadlineExceeded after progressDeadlineSeconds without progress; measured from the last progress', async () => {
    const c = await cluster();
    await c.client.create(deployment('web', 3, { progressDeadlineSeconds: 10, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } }));
    await until(c, () => rolledOut(c, '1'));
    c.broken.add('web:broken');
    await change(c, image('broken'));
    const start = c.clock.nowMs;
    let exceededAt: number | undefined;
    await until(
      c,
      async () => getCondition((await get(c)).status?.conditions, 'Progressing')?.reason === 'ProgressDeadlineExceeded',
      30,
      async () => {
        exceededAt = c.clock.nowMs;
      },
    );
    // 10 s after the last progress (the surge pod's creation), not before.
    expect(exceededAt! - start).toBeGreaterThan(10_000);
    expect(exceededAt! - start).toBeLessThanOrEqual(13_000);
    const d = await get(c);
    expect(getCondition(d.status?.conditions, 'Progressing')).toMatchObject({ status: 'False' });
    // maxUnavailable 0: all 3 old pods still serve, one surge pod that never got ready.
    expect(d.status).toMatchObject({ replicas: 4, updatedReplicas: 1, availableReplicas: 3 });

    // A fixed template starts a new rollout that recovers the condition.
    await change(c, image('3'));
    await until(c, () => rolledOut(c, '3'));
    await c.step();
    expect(getCondition((await get(c)).status?.conditions, 'Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable' });
  });

  it('a paused Deployment never times out; resuming restarts the clock (DeploymentPaused, DeploymentResumed)', async () => {
    const c = await cluster();
    await c.client.create(deployment('web', 2, { progressDeadlineSeconds: 5 }));
    await until(c, () => rolledOut(c, '1'));
    await change(c, (d) => {
      d.spec.paused = true;
      image('2')(d);
    });
    await c.run(20);
    let d = await get(c);
    expect(getCondition(d.status?.conditions, 'Progressing')).toMatchObject({ status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused' });
    expect(await setsOf(c)).toHaveLength(1);
    await change(c, (x) => (x.spec.paused = false));
    await c.step();
    d = await get(c);
    const reason = getCondition(d.status?.conditions, 'Progressing')?.reason;
    expect(['DeploymentResumed', 'NewReplicaSetCreated', 'ReplicaSetUpdated']).toContain(reason);
    await until(c, () => rolledOut(c, '2'));
  });
});

describe('paused', () => {
  it('no rollout progress while paused (even mid-rollout), scaling still applies proportionally', async () => {
    const c = await cluster();
    c.readyAfterMs = 3000;
    await c.client.create(deployment('web', 4, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } }));
    await until(c, () => rolledOut(c, '1'));
    await change(c, image('2'));
    await c.step(); // the new set gets its surge pod
    await change(c, (d) => (d.spec.paused = true));
    await c.step();
    const sizes = async () => Object.fromEntries((await setsOf(c)).map((rs) => [revisionOfSet(rs), rs.spec.replicas]));
    const frozen = await sizes();
    await c.run(10);
    expect(await sizes()).toEqual(frozen);
    // Scaling while paused: 4 -> 8 shared by the two sets, nothing rolled.
    await change(c, (d) => (d.spec.replicas = 8));
    await c.run(3);
    const scaled = await sizes();
    // 4 + 1 of max 5 grow to max 9 (8 + maxSurge 1): 7 + 2.
    expect(frozen).toEqual({ '1': 4, '2': 1 });
    expect(scaled).toEqual({ '1': 7, '2': 2 });
    await c.run(5);
    expect(await sizes()).toEqual(scaled);
    await change(c, (d) => (d.spec.paused = false));
    await until(c, () => rolledOut(c, '2'));
  });
});

describe('revisions and annotations', () => {
  it('copies kubernetes.io/change-cause and other Deployment annotations to the new set, not the bookkeeping ones', async () => {
    const c = await cluster();
    const d0 = deployment('web', 2);
    d0.metadata.annotations = { [CHANGE_CAUSE_ANNOTATION]: 'first', [LAST_APPLIED_ANNOTATION]: '{}', team: 'a' };
    await c.client.create(d0);
    await until(c, () => rolledOut(c, '1'));
    let [v1] = await setsOf(c);
    expect(v1.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION]).toBe('first');
    expect(v1.metadata.annotations?.team).toBe('a');
    expect(v1.metadata.annotations?.[LAST_APPLIED_ANNOTATION]).toBeUndefined();

    // A new template with a new cause: the new set gets it, the old keeps its own.
    await change(c, (d) => {
      image('2')(d);
      d.metadata.annotations = { ...d.metadata.annotations, [CHANGE_CAUSE_ANNOTATION]: 'second' };
    });
    await until(c, () => rolledOut(c, '2'));
    const sets = await setsOf(c);
    v1 = sets.find((rs) => revisionOfSet(rs) === '1')!;
    const v2 = sets.find((rs) => revisionOfSet(rs) === '2')!;
    expect(v1.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION]).toBe('first');
    expect(v2.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION]).toBe('second');
    expect(v2.metadata.annotations?.[REVISION_ANNOTATION]).toBe('2');

    // An annotation changed without a template change reaches the current set too.
    await change(c, (d) => (d.metadata.annotations = { ...d.metadata.annotations, [CHANGE_CAUSE_ANNOTATION]: 'second, annotated' }));
    await c.run(2);
    const v2now = (await setsOf(c)).find((rs) => rs.metadata.uid === v2.metadata.uid)!;
    expect(v2now.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION]).toBe('second, annotated');
    expect(revisionOfSet(v2now)).toBe('2');
  });

  it('undo (the old template copied back) re-uses the old set as the next revision, keeping its history', async () => {
    const c = await cluster();
    await c.client.create(deployment('web', 2));
    await until(c, () => rolledOut(c, '1'));
    for (const v of ['2', '1', '2', '1']) {
      await change(c, image(v));
      await until(c, () => rolledOut(c, v));
    }
    const sets = await setsOf(c);
    expect(sets).toHaveLength(2);
    const v1 = sets.find((rs) => rs.spec.template.spec.containers[0].image === 'web:1')!;
    const v2 = sets.find((rs) => rs.spec.template.spec.containers[0].image === 'web:2')!;
    expect(revisionOfSet(v1)).toBe('5');
    expect(v1.metadata.annotations?.[REVISION_HISTORY_ANNOTATION]).toBe('1,3');
    expect(revisionOfSet(v2)).toBe('4');
    expect(v2.metadata.annotations?.[REVISION_HISTORY_ANNOTATION]).toBe('2');
    expect((await get(c)).metadata.annotations?.[REVISION_ANNOTATION]).toBe('5');
  });

  it('revision-history stays within 2000 characters, oldest entries dropped', () => {
    expect(appendRevisionHistory(undefined, '1')).toBe('1');
    expect(appendRevisionHistory('1,3', '5')).toBe('1,3,5');
    expect(appendRevisionHistory('1,2,3', '4', 5)).toBe('2,3,4');
    expect(appendRevisionHistory('1,2,3', '4', 4)).toBe('3,4');
    const long = Array.from({ length: 600 }, (_, i) => String(i + 1000)).join(',');
    const next = appendRevisionHistory(long, '9999')!;
    expect(next.length).toBeLessThanOrEqual(2000);
    expect(next.endsWith(',9999')).toBe(true);
    const rs: ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'x', annotations: { [REVISION_ANNOTATION]: '1', [REVISION_HISTORY_ANNOTATION]: long } },
      spec: { selector: {}, template: { spec: { containers: [] } } },
    };
    expect(setNewReplicaSetAnnotations(deployment('web', 1), rs, 9, false)).toBe(true);
    expect(rs.metadata.annotations?.[REVISION_ANNOTATION]).toBe('9');
    expect(rs.metadata.annotations?.[REVISION_HISTORY_ANNOTATION]?.length).toBeLessThanOrEqual(2000);
  });

  it('a restartedAt template annotation rolls out a new set', async () => {
    const c = await cluster();
    await c.client.create(deployment('web', 2));
    await until(c, () => rolledOut(c, '1'));
    const before = new Set((await c.pods()).map((p) => p.metadata.uid));
    await change(c, (d) => {
      d.spec.template.metadata = { ...d.spec.template.metadata, annotations: { [RESTARTED_AT_ANNOTATION]: isoTime(c.clock.nowMs) } };
    });
    await until(c, async () => (await rolledOut(c, '1')) && (await c.pods()).every((p) => !before.has(p.metadata.uid)));
    const sets = await setsOf(c);
    expect(sets.map(revisionOfSet).sort()).toEqual(['1', '2']);
    expect((await c.pods()).every((p) => p.metadata.annotations?.[RESTARTED_AT_ANNOTATION] !== undefined)).toBe(true);
  });
});

describe('revisionHistoryLimit', () => {
  it('0 keeps no old set once the rollout completes; a set still scaling down is kept until it has no pods', async () => {
    const c = await cluster(true);
    c.readyAfterMs = 1000;
    await c.client.create(deployment('web', 3, { revisionHistoryLimit: 0 }));
    await until(c, () => rolledOut(c, '1'));
    await change(c, image('2'));
    await until(
      c,
      () => rolledOut(c, '2'),
      60,
      async () => {
        // While old pods exist, their set is never deleted.
        const sets = await setsOf(c);
        const oldPods = (await c.client.list('Pod')).filter((p) => p.spec.containers[0].image === 'web:1');
        if (oldPods.length > 0) expect(sets.some((rs) => rs.spec.template.spec.containers[0].image === 'web:1')).toBe(true);
      },
    );
    await c.run(2);
    const sets = await setsOf(c);
    expect(sets.map(revisionOfSet)).toEqual(['2']);
  });

  it('keeps the newest N old sets by revision', async () => {
    const c = await cluster();
    await c.client.create(deployment('web', 1, { revisionHistoryLimit: 2 }));
    await until(c, () => rolledOut(c, '1'));
    for (const v of ['2', '3', '4', '5']) {
      await change(c, image(v));
      await until(c, () => rolledOut(c, v));
    }
    await c.run(2);
    expect((await setsOf(c)).map(revisionOfSet).sort()).toEqual(['3', '4', '5']);
  });
});

describe('Recreate', () => {
  it('no pod of an old set (even a terminating one) exists when the new set is created', async () => {
    const c = await cluster(true);
    c.readyAfterMs = 1000;
    await c.client.create(deployment('web', 3, { strategy: { type: 'Recreate' } }));
    await until(c, () => rolledOut(c, '1'));
    const firstSet = (await setsOf(c))[0];
    await change(c, image('2'));
    await until(
      c,
      () => rolledOut(c, '2'),
      40,
      async () => {
        const all = await c.client.list('Pod');
        const images = new Set(all.map((p) => p.spec.containers[0].image));
        expect(images.size).toBeLessThanOrEqual(1);
      },
    );
    const d = await get(c);
    expect(d.status).toMatchObject({ replicas: 3, updatedReplicas: 3, availableReplicas: 3 });
    expect(getCondition(d.status?.conditions, 'Progressing')?.reason).toBe('NewReplicaSetAvailable');
    const old = (await setsOf(c)).find((rs) => rs.metadata.uid === firstSet.metadata.uid);
    expect(old?.spec.replicas).toBe(0);
  });
});

describe('proportional scaling', () => {
  it('a zero max-replicas annotation falls back to the observed size', () => {
    const d = deployment('d', 20, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } } });
    d.status = { replicas: 10 };
    const set = (name: string, replicas: number, created: number, max: string): ReplicaSet => ({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name, uid: name, creationTimestamp: isoTime(created * 1000), annotations: { [MAX_REPLICAS_ANNOTATION]: max } },
      spec: { replicas, selector: {}, template: { spec: { containers: [] } } },
    });
    // 6 + 4 of 10 (annotation 0 -> status.replicas 10) double to 12 + 8.
    expect(Object.fromEntries(proportionalSizes(d, [set('old', 6, 0, '0'), set('new', 4, 1, '0')]))).toEqual({ old: 12, new: 8 });
  });
});
