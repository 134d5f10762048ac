// Deployment rollouts on real processes (issue 6 item 1): 3 masters, 2 agents, hello servers
// with a readiness probe. RollingUpdate with maxSurge 1 / maxUnavailable 0 never drops below
// 3 available pods (sampled from a pod watch); `bramble rollout status|history|undo`;
// Recreate never has old and new pods at once; a rollout whose pods never get ready hits
// ProgressDeadlineExceeded; pause stops a rollout, resume continues it; restart replaces every pod;
// killing the leader master midway does not stop a rollout or `rollout status`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deployment, Pod, ReplicaSet } from '@bramble/api';
import { run, type CliEnvironment } from '@bramble/cli';
import type { ResourceWatchHandle } from '@bramble/client';
import { OrchestratorCluster, waitFor } from '@bramble/testkit';
import { helloDeployment, podsOf, waitForOneProcessPerPod, waitForRunning, runBramble, type CliResult } from './helpers.js';

const REVISION = 'deployment.kubernetes.io/revision';
const HASH = 'pod-template-hash';

function isReady(pod: Pod): boolean {
  return pod.status?.phase === 'Running' && !pod.metadata.deletionTimestamp && pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/**
 * Every pod of an app as a watch reports it, revision by revision: the fewest Ready pods
 * (not being deleted) seen while `sampling`, and whether pods of two templates (any
 * pod-template-hash, terminating ones included) ever existed at once.
 */
class PodSampler {
  readonly pods = new Map<string, Pod>();
  sampling = false;
  minReady = Number.POSITIVE_INFINITY;
  maxReady = 0;
  maxTemplatesAtOnce = 0;
  /** Every pod-template-hash seen while sampling. */
  readonly templatesSeen = new Set<string | undefined>();
  events = 0;
  private handle?: ResourceWatchHandle;

  constructor(
    private readonly cluster: OrchestratorCluster,
    private readonly app: string,
  ) {}

  async start(): Promise<void> {
    let synced = false;
    this.handle = this.cluster.resources().watch('Pod', { namespace: 'default', labelSelector: `app=${this.app}`, sendInitialEvents: true }, (e) => {
      if (e.type === 'BOOKMARK') {
        synced = true;
        return;
      }
      if (e.type === 'DELETED') this.pods.delete(e.object.metadata.uid!);
      else this.pods.set(e.object.metadata.uid!, e.object);
      this.events++;
      if (!this.sampling) return;
      const ready = [...this.pods.values()].filter(isReady).length;
      this.minReady = Math.min(this.minReady, ready);
      this.maxReady = Math.max(this.maxReady, ready);
      const templates = new Set([...this.pods.values()].map((p) => p.metadata.labels?.[HASH]));
      for (const t of templates) this.templatesSeen.add(t);
      this.maxTemplatesAtOnce = Math.max(this.maxTemplatesAtOnce, templates.size);
    });
    await waitFor(`the pod watch of ${this.app} to sync`, () => synced, 10_000, 20);
  }

  begin(): void {
    this.sampling = true;
    this.minReady = this.maxReady = [...this.pods.values()].filter(isReady).length;
    this.templatesSeen.clear();
    for (const p of this.pods.values()) this.templatesSeen.add(p.metadata.labels?.[HASH]);
    this.maxTemplatesAtOnce = this.templatesSeen.size;
  }

  stop(): void {
    this.sampling = false;
    this.handle?.close();
  }
}

describe('deployment rollouts on a 3-master, 2-agent process cluster', () => {
  let cluster: OrchestratorCluster;
  let home: string;
  const samplers: PodSampler[] = [];

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'bramble-rollouts-'));
    cluster = await OrchestratorCluster.start({ masters: 3, agents: 2 });
  }, 90_000);

  afterAll(async () => {
    for (const s of samplers) s.stop();
    await cluster?.destroy();
    if (home) await rm(home, { recursive: true, force: true });
  }, 60_000);

  /** `bramble ARGS` in-process against the cluster's masters. */
  function bramble(...args: string[]): Promise<CliResult> {
    return runBramble(cluster, home, ...args);
  }

  async function sampler(app: string): Promise<PodSampler> {
    const s = new PodSampler(cluster, app);
    samplers.push(s);
    await s.start();
    return s;
  }

  async function deploymentOf(name: string): Promise<Deployment> {
    return cluster.resources().get('Deployment', 'default', name);
  }

  async function setsOf(name: string): Promise<ReplicaSet[]> {
    const d = await deploymentOf(name);
    const sets = (await cluster.resources().list('ReplicaSet', { namespace: 'default' })).items;
    return sets.filter((rs) => rs.metadata.ownerReferences?.some((o) => o.uid === d.metadata.uid));
  }

  /** Replace the Deployment (get, change, update), retried when the controller wrote in between. */
  async function change(name: string, fn: (d: Deployment) => void): Promise<Deployment> {
    for (let attempt = 0; ; attempt++) {
      const d = structuredClone(await deploymentOf(name));
      fn(d);
      try {
        return await cluster.resources().update(d);
      } catch (err) {
        if (attempt >= 5) throw err;
      }
    }
  }

  const greeting = (value: string) => (d: Deployment) => {
    d.spec.template.spec.containers[0].env = [{ name: 'GREETING', value }];
  };

  async function statusOk(name: string): Promise<void> {
    const r = await bramble('--timeout', '90s', 'rollout', 'status', `deployment/${name}`);
    expect(r.stderr, r.stdout).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.endsWith(`deployment "${name}" successfully rolled out\n`)).toBe(true);
  }

  async function remove(name: string): Promise<void> {
    await cluster.resources().delete('Deployment', 'default', name);
    await waitFor(`the pods of ${name} to be gone`, async () => (await podsOf(cluster, name)).length === 0, 30_000, 200);
  }

  it('RollingUpdate maxSurge 1 / maxUnavailable 0: never fewer than 3 available, then history and undo', async () => {
    const app = 'roll';
    const d0 = helloDeployment(app, 3);
    d0.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
    await cluster.resources().create(d0);
    await statusOk(app);
    const v1Pods = await waitForRunning(cluster, app, 3, 30_000);
    const [v1] = await setsOf(app);
    const v1Hash = v1.metadata.labels?.[HASH];

    const pods = await sampler(app);
    pods.begin();
    expect(pods.minReady).toBe(3);
    await change(app, (d) => {
      greeting('v2')(d);
      d.metadata.annotations = { ...d.metadata.annotations, 'kubernetes.io/change-cause': 'greeting v2' };
    });
    const status = await bramble('--timeout', '90s', 'rollout', 'status', `deployment/${app}`);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/Waiting for deployment "roll" rollout to finish: /);
    expect(status.stdout.endsWith('deployment "roll" successfully rolled out\n')).toBe(true);
    pods.sampling = false;
    expect(pods.events).toBeGreaterThan(6);
    expect(pods.minReady, 'Ready pods (not terminating) during the rollout').toBeGreaterThanOrEqual(3);
    // The sampler saw the rollout itself: the surge pod ready beside the 3 old ones, both templates.
    expect(pods.maxReady).toBe(4);
    expect(pods.templatesSeen.size).toBe(2);

    // All pods are new ones, of the new template; the old set is scaled to 0 and kept as history.
    const v2Pods = await waitForRunning(cluster, app, 3, 30_000, (ps) => ps.every((p) => p.metadata.labels?.[HASH] !== v1Hash));
    expect(v2Pods.every((p) => p.spec.containers[0].env?.some((e) => e.name === 'GREETING' && e.value === 'v2'))).toBe(true);
    expect(v2Pods.some((p) => v1Pods.some((o) => o.metadata.uid === p.metadata.uid))).toBe(false);
    await waitForOneProcessPerPod(cluster, () => podsOf(cluster, app));
    const d = await deploymentOf(app);
    expect(d.metadata.annotations?.[REVISION]).toBe('2');
    expect(d.status).toMatchObject({ observedGeneration: d.metadata.generation, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 });
    const sets = await setsOf(app);
    expect(sets).toHaveLength(2);
    expect(sets.find((rs) => rs.metadata.uid === v1.metadata.uid)?.spec.replicas).toBe(0);

    const history = await bramble('rollout', 'history', `deployment/${app}`);
    expect(history.code).toBe(0);
    expect(history.stdout).toBe('deployment.apps/roll\nREVISION  CHANGE-CAUSE\n1         <none>\n2         greeting v2\n\n');

    // Undo: revision 1's template comes back, as revision 3, on the same ReplicaSet.
    pods.begin();
    const undo = await bramble('rollout', 'undo', `deployment/${app}`);
    expect(undo).toMatchObject({ code: 0, stdout: 'deployment.apps/roll rolled back\n' });
    await statusOk(app);
    pods.sampling = false;
    expect(pods.minReady, 'Ready pods during the undo').toBeGreaterThanOrEqual(3);
    const back = await waitForRunning(cluster, app, 3, 30_000, (ps) => ps.every((p) => p.metadata.labels?.[HASH] === v1Hash));
    expect(back.every((p) => (p.spec.containers[0].env ?? []).every((e) => e.name !== 'GREETING'))).toBe(true);
    const after = await setsOf(app);
    expect(after).toHaveLength(2);
    const reused = after.find((rs) => rs.metadata.uid === v1.metadata.uid)!;
    expect(reused.metadata.annotations?.[REVISION]).toBe('3');
    expect(reused.spec.replicas).toBe(3);
    expect((await deploymentOf(app)).metadata.annotations?.[REVISION]).toBe('3');
    const history2 = await bramble('rollout', 'history', `deployment/${app}`);
    expect(history2.stdout).toBe('deployment.apps/roll\nREVISION  CHANGE-CAUSE\n2         greeting v2\n3         <none>\n\n');
    const missing = await bramble('rollout', 'undo', `deployment/${app}`, '--to-revision', '7');
    expect(missing).toMatchObject({ code: 1, stderr: 'error: unable to find specified revision 7 in history\n' });
    pods.stop();
    await remove(app);
  }, 180_000);

  it('a rollout completes, and rollout status follows it, when the leader master is killed with SIGKILL midway', async () => {
    const app = 'failover';
    const d0 = helloDeployment(app, 3);
    d0.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
    await cluster.resources().create(d0);
    await statusOk(app);
    const [v1] = await setsOf(app);
    const pods = await sampler(app);
    pods.begin();
    await change(app, greeting('v2'));
    const status = bramble('--timeout', '120s', 'rollout', 'status', `deployment/${app}`);
    // Midway: the first new pod exists, old ones still run.
    await waitFor('a pod of the new template', () => [...pods.pods.values()].some((p) => p.metadata.labels?.[HASH] !== v1.metadata.labels?.[HASH]), 30_000, 20);
    const leader = await cluster.masters.waitForLeader();
    await cluster.masters.kill(leader, 'SIGKILL');
    const r = await status;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.endsWith('deployment "failover" successfully rolled out\n')).toBe(true);
    pods.sampling = false;
    expect(pods.minReady, 'Ready pods during the rollout').toBeGreaterThanOrEqual(3);
    await waitForRunning(cluster, app, 3, 30_000, (ps) => ps.every((p) => p.spec.containers[0].env?.[0]?.value === 'v2'));
    await waitForOneProcessPerPod(cluster, () => podsOf(cluster, app));
    expect(await setsOf(app)).toHaveLength(2);
    pods.stop();
    await cluster.masters.restart(leader);
    await cluster.masters.waitForMembers();
    await remove(app);
  }, 180_000);

  it('Recreate: old and new pods never exist at the same time', async () => {
    const app = 'recreate';
    const d0 = helloDeployment(app, 2);
    d0.spec.strategy = { type: 'Recreate' };
    await cluster.resources().create(d0);
    await statusOk(app);
    const old = await waitForRunning(cluster, app, 2, 30_000);
    const pods = await sampler(app);
    pods.begin();
    await change(app, greeting('v2'));
    await statusOk(app);
    const fresh = await waitForRunning(cluster, app, 2, 30_000, (ps) => ps.every((p) => !old.some((o) => o.metadata.uid === p.metadata.uid)));
    pods.sampling = false;
    expect(pods.events).toBeGreaterThan(4);
    expect(pods.templatesSeen.size, 'both templates were seen').toBe(2);
    expect(pods.maxTemplatesAtOnce, 'pod templates present at once (terminating pods included)').toBe(1);
    expect(fresh.every((p) => p.spec.containers[0].env?.[0]?.value === 'v2')).toBe(true);
    await waitForOneProcessPerPod(cluster, () => podsOf(cluster, app));
    pods.stop();
    await remove(app);
  }, 120_000);

  it('a rollout whose new pods never become ready exceeds its progress deadline; rollout status exits 1', async () => {
    const app = 'stuck';
    const d0 = helloDeployment(app, 2);
    d0.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
    d0.spec.progressDeadlineSeconds = 5;
    await cluster.resources().create(d0);
    await statusOk(app);
    await change(app, (d) => {
      d.spec.template.spec.containers[0].readinessProbe = { exec: { command: ['/bin/false'] }, periodSeconds: 1 };
    });
    const started = Date.now();
    const r = await bramble('--timeout', '60s', 'rollout', 'status', `deployment/${app}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: deployment "stuck" exceeded its progress deadline\n');
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_000);
    const d = await deploymentOf(app);
    expect(d.status?.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
    // maxUnavailable 0: both old pods still serve beside the one surge pod that never got ready.
    const ready = (await podsOf(cluster, app)).filter(isReady);
    expect(ready).toHaveLength(2);
    expect(d.status).toMatchObject({ updatedReplicas: 1, availableReplicas: 2 });
    // A second `rollout status` fails at once.
    const again = await bramble('rollout', 'status', `deployment/${app}`);
    expect(again).toMatchObject({ code: 1, stderr: 'error: deployment "stuck" exceeded its progress deadline\n' });
    await remove(app);
  }, 120_000);

  it('pause stops a rollout, resume continues it; restart replaces every pod', async () => {
    const app = 'paused';
    await cluster.resources().create(helloDeployment(app, 2));
    await statusOk(app);
    const before = await waitForRunning(cluster, app, 2, 30_000);
    expect(await bramble('rollout', 'pause', `deployment/${app}`)).toMatchObject({ code: 0, stdout: 'deployment.apps/paused paused\n' });
    const changed = await change(app, greeting('v2'));
    // The controller has seen the new template (observedGeneration) and, paused, made no new set.
    await waitFor(
      'the paused Deployment to be observed',
      async () => {
        const d = await deploymentOf(app);
        return d.status?.observedGeneration === changed.metadata.generation && d.status?.conditions?.some((c) => c.reason === 'DeploymentPaused');
      },
      20_000,
      100,
    );
    expect(await setsOf(app)).toHaveLength(1);
    const still = await waitForRunning(cluster, app, 2, 10_000);
    expect(still.map((p) => p.metadata.uid).sort()).toEqual(before.map((p) => p.metadata.uid).sort());
    const waiting = await bramble('rollout', 'status', `deployment/${app}`, '--watch=false');
    expect(waiting.stdout).toBe('Waiting for deployment "paused" rollout to finish: 0 out of 2 new replicas have been updated...\n');

    expect(await bramble('rollout', 'resume', `deployment/${app}`)).toMatchObject({ code: 0, stdout: 'deployment.apps/paused resumed\n' });
    await statusOk(app);
    const resumed = await waitForRunning(cluster, app, 2, 30_000, (ps) => ps.every((p) => p.spec.containers[0].env?.[0]?.value === 'v2'));
    expect(await setsOf(app)).toHaveLength(2);

    expect(await bramble('rollout', 'restart', `deployment/${app}`)).toMatchObject({ code: 0, stdout: 'deployment.apps/paused restarted\n' });
    await statusOk(app);
    const restarted = await waitForRunning(cluster, app, 2, 30_000, (ps) => ps.every((p) => !resumed.some((o) => o.metadata.uid === p.metadata.uid)));
    expect(restarted.every((p) => p.metadata.annotations?.['kubectl.kubernetes.io/restartedAt'] !== undefined)).toBe(true);
    expect((await setsOf(app)).map((rs) => rs.metadata.annotations?.[REVISION]).sort()).toEqual(['1', '2', '3']);
    await waitForOneProcessPerPod(cluster, () => podsOf(cluster, app));
    await remove(app);
  }, 150_000);
});
