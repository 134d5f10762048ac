// `bramble rollout status|history|undo|pause|resume|restart` in-process against the fake
// Resources server: what they print, what they change, and their errors.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { Deployment, DeploymentStatus, ReplicaSet } from '@bramble/api';
import { CliHarness, waitFor } from './harness.js';
import { FakeResources } from './resources-fake.js';

let fake: FakeResources;
let cli: CliHarness;
let server: string[];

beforeEach(async () => {
  fake = new FakeResources();
  await fake.start();
  cli = new CliHarness();
  server = ['--server', fake.address];
});

afterEach(() => {
  fake.stop();
  cli.cleanup();
});

function template(image: string, extra: { hash?: string; annotations?: Record<string, string> } = {}): Deployment['spec']['template'] {
  return {
    metadata: { labels: { app: 'web', ...(extra.hash ? { 'pod-template-hash': extra.hash } : {}) }, ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: { containers: [{ name: 'web', image, command: ['node', 'server.js'] }] },
  };
}

function deployment(name: string, image: string, opts: { replicas?: number; namespace?: string; paused?: boolean; annotations?: Record<string, string> } = {}): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: opts.namespace ?? 'default', ...(opts.annotations ? { annotations: opts.annotations } : {}) },
    spec: { replicas: opts.replicas ?? 3, selector: { matchLabels: { app: 'web' } }, template: template(image), ...(opts.paused ? { paused: true } : {}) },
  };
}

/** A ReplicaSet of `d` at `revision`, as the Deployment controller makes them. */
function replicaSet(d: Deployment, revision: number, image: string, opts: { replicas?: number; changeCause?: string; owned?: boolean } = {}): ReplicaSet {
  const hash = `h${revision}${image.replace(/[^a-z0-9]/g, '')}`.slice(0, 10);
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${d.metadata.name}-${hash}`,
      namespace: d.metadata.namespace,
      labels: { app: 'web', 'pod-template-hash': hash },
      annotations: {
        'deployment.kubernetes.io/revision': String(revision),
        'deployment.kubernetes.io/desired-replicas': '3',
        'deployment.kubernetes.io/max-replicas': '4',
        ...(opts.changeCause ? { 'kubernetes.io/change-cause': opts.changeCause } : {}),
      },
      ...(opts.owned === false
        ? {}
        : { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name ?? '', uid: d.metadata.uid ?? '', controller: true }] }),
    },
    spec: { replicas: opts.replicas ?? 0, selector: { matchLabels: { app: 'web', 'pod-template-hash': hash } }, template: template(image, { hash }) },
  };
}

/** Status as the controller would write it for the current generation. */
async function setStatus(name: string, status: Omit<DeploymentStatus, 'observedGeneration'>, namespace = 'default'): Promise<Deployment> {
  const d = (await fake.get('Deployment', namespace, name))!;
  return fake.put({ ...d, status: { observedGeneration: d.metadata.generation, ...status } });
}

const progressing = (reason: string) => [{ type: 'Progressing', status: reason === 'ProgressDeadlineExceeded' ? ('False' as const) : ('True' as const), reason }];

describe('rollout status', () => {
  it('prints each new state while following the rollout and exits 0 when it completes', async () => {
    await fake.put(deployment('web', 'web:2'));
    await setStatus('web', { replicas: 4, updatedReplicas: 1, availableReplicas: 3, conditions: progressing('ReplicaSetUpdated') });
    let out = '';
    const running = cli.run([...server, 'rollout', 'status', 'deployment/web'], { onStdout: (all) => (out = all) });
    await waitFor('the watch to start', () => fake.watcherCount === 1 && out !== '');
    await setStatus('web', { replicas: 4, updatedReplicas: 1, availableReplicas: 3, readyReplicas: 3, conditions: progressing('ReplicaSetUpdated') }); // same line
    await setStatus('web', { replicas: 5, updatedReplicas: 3, availableReplicas: 3, conditions: progressing('ReplicaSetUpdated') });
    await setStatus('web', { replicas: 3, updatedReplicas: 3, availableReplicas: 2, conditions: progressing('ReplicaSetUpdated') });
    await setStatus('web', { replicas: 3, updatedReplicas: 3, availableReplicas: 3, conditions: progressing('NewReplicaSetAvailable') });
    const r = await running;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
        'Waiting for deployment "web" rollout to finish: 2 old replicas are pending termination...',
        'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...',
        'deployment "web" successfully rolled out',
        '',
      ].join('\n'),
    );
    await waitFor('the watch to be closed', () => fake.watcherCount === 0);
  });

  it('a rolled-out Deployment prints success at once; `deploy NAME` and -n work', async () => {
    await fake.put(deployment('api', 'api:1', { namespace: 'prod', replicas: 2 }));
    await setStatus('api', { replicas: 2, updatedReplicas: 2, availableReplicas: 2 }, 'prod');
    const r = await cli.run([...server, 'rollout', 'status', 'deploy', 'api', '-n', 'prod']);
    expect(r).toMatchObject({ code: 0, stdout: 'deployment "api" successfully rolled out\n', stderr: '' });
    expect(fake.calls).not.toContain('Watch');
  });

  it('--watch=false prints the state once and exits 0', async () => {
    await fake.put(deployment('web', 'web:2'));
    await setStatus('web', { replicas: 3, updatedReplicas: 3, availableReplicas: 1 });
    const r = await cli.run([...server, 'rollout', 'status', 'deployment/web', '--watch=false']);
    expect(r).toMatchObject({ code: 0, stdout: 'Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available...\n' });
    expect(fake.calls).not.toContain('Watch');
  });

  it('waits for the controller to observe a new generation', async () => {
    await fake.put(deployment('web', 'web:1'));
    await setStatus('web', { replicas: 3, updatedReplicas: 3, availableReplicas: 3 });
    const d = (await fake.get('Deployment', 'default', 'web'))!;
    await fake.put({ ...d, spec: { ...d.spec, template: template('web:2') } }); // generation + 1, status not yet
    const r = await cli.run([...server, 'rollout', 'status', 'deployment/web', '--watch=false']);
    expect(r.stdout).toBe('Waiting for deployment spec update to be observed...\n');
  });

  it('exits 1 when the progress deadline is exceeded, at once or while following', async () => {
    await fake.put(deployment('web', 'web:2'));
    await setStatus('web', { replicas: 4, updatedReplicas: 1, availableReplicas: 3, conditions: progressing('ProgressDeadlineExceeded') });
    let r = await cli.run([...server, 'rollout', 'status', 'deployment/web']);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'error: deployment "web" exceeded its progress deadline\n' });

    await setStatus('web', { replicas: 4, updatedReplicas: 1, availableReplicas: 3, conditions: progressing('ReplicaSetUpdated') });
    let out = '';
    const running = cli.run([...server, 'rollout', 'status', 'deployment/web'], { onStdout: (all) => (out = all) });
    await waitFor('the watch to start', () => fake.watcherCount === 1 && out !== '');
    await setStatus('web', { replicas: 4, updatedReplicas: 1, availableReplicas: 3, conditions: progressing('ProgressDeadlineExceeded') });
    r = await running;
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...\n');
    expect(r.stderr).toBe('error: deployment "web" exceeded its progress deadline\n');
    await waitFor('the watch to be closed', () => fake.watcherCount === 0);
  });

  it('--timeout bounds the wait', async () => {
    await fake.put(deployment('web', 'web:2'));
    await setStatus('web', { replicas: 4, updatedReplicas: 1, availableReplicas: 3 });
    const started = Date.now();
    const r = await cli.run([...server, 'rollout', 'status', 'deployment/web', '--timeout', '400ms']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: timed out waiting for the condition\n');
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    await waitFor('the watch to be closed', () => fake.watcherCount === 0);
  });

  it('Ctrl-C stops following with exit code 130', async () => {
    await fake.put(deployment('web', 'web:2'));
    await setStatus('web', { replicas: 4, updatedReplicas: 1, availableReplicas: 3 });
    const running = cli.run([...server, 'rollout', 'status', 'deployment/web']);
    await waitFor('the watch to start', () => fake.watcherCount === 1 && cli.interruptible);
    cli.interrupt();
    const r = await running;
    expect(r.code).toBe(130);
    await waitFor('the watch to be closed', () => fake.watcherCount === 0);
  });

  it('--revision: fails when the Deployment runs another revision', async () => {
    await fake.put(deployment('web', 'web:2', { annotations: { 'deployment.kubernetes.io/revision': '2' } }));
    await setStatus('web', { replicas: 3, updatedReplicas: 3, availableReplicas: 3 });
    expect((await cli.run([...server, 'rollout', 'status', 'deployment/web', '--revision', '2'])).code).toBe(0);
    const r = await cli.run([...server, 'rollout', 'status', 'deployment/web', '--revision', '1']);
    expect(r).toMatchObject({ code: 1, stderr: 'error: desired revision (1) is different from the running revision (2)\n' });
  });

  it('errors: unknown deployment, other kinds, several names', async () => {
    let r = await cli.run([...server, 'rollout', 'status', 'deployment/nope']);
    expect(r).toMatchObject({ code: 1, stderr: 'Error from server (NotFound): deployments.apps "nope" not found\n' });
    r = await cli.run([...server, 'rollout', 'status', 'rs/web-1']);
    expect(r).toMatchObject({ code: 1, stderr: 'error: rollout status: only deployments have rollouts (got replicasets)\n' });
    r = await cli.run([...server, 'rollout', 'status', 'deploy', 'a', 'b']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: rollout status: exactly one deployment, got 2\n');
    r = await cli.run([...server, 'rollout', 'status', 'deploy']);
    expect(r.code).toBe(2);
  });
});

/** web at revision 3 (web:3), with owned sets for revisions 1..3 and one set it does not own. */
async function withHistory(opts: { paused?: boolean } = {}): Promise<Deployment> {
  const d = await fake.put(
    deployment('web', 'web:3', { paused: opts.paused, annotations: { 'deployment.kubernetes.io/revision': '3', 'kubernetes.io/change-cause': 'image web:3', 'bramble.io/last-applied': '{}' } }),
  );
  await fake.put(replicaSet(d, 1, 'web:1'));
  await fake.put(replicaSet(d, 2, 'web:2', { changeCause: 'image web:2' }));
  await fake.put(replicaSet(d, 3, 'web:3', { replicas: 3, changeCause: 'image web:3' }));
  const stray = replicaSet(d, 9, 'other:1', { owned: false });
  stray.metadata.name = 'other-set';
  await fake.put(stray);
  return d;
}

describe('rollout history', () => {
  it('lists the revisions of the sets the Deployment controls, with change-cause', async () => {
    await withHistory();
    const r = await cli.run([...server, 'rollout', 'history', 'deployment/web']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(['deployment.apps/web', 'REVISION  CHANGE-CAUSE', '1         <none>', '2         image web:2', '3         image web:3', '', ''].join('\n'));
  });

  it('--revision N shows that revision\'s pod template; an unknown one is an error', async () => {
    await withHistory();
    const r = await cli.run([...server, 'rollout', 'history', 'deploy', 'web', '--revision', '2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^deployment\.apps\/web with revision #2\nChange-Cause: image web:2\nPod Template:\n/);
    expect(r.stdout).toMatch(/Image:\s+web:2/);
    const missing = await cli.run([...server, 'rollout', 'history', 'deploy', 'web', '--revision', '7']);
    expect(missing).toMatchObject({ code: 1, stderr: 'error: unable to find the specified revision 7 of deployment "web"\n' });
  });

  it('-o yaml prints the ReplicaSets; no sets: "No rollout history found."', async () => {
    await withHistory();
    const r = await cli.run([...server, '-o', 'yaml', 'rollout', 'history', 'deployment/web']);
    const list = YAML.parse(r.stdout) as { items: ReplicaSet[] };
    expect(list.items.map((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/revision'])).toEqual(['1', '2', '3']);
    await fake.put(deployment('lonely', 'x:1'));
    const none = await cli.run([...server, 'rollout', 'history', 'deployment/lonely']);
    expect(none.stdout).toBe('deployment.apps/lonely\nNo rollout history found.\n');
  });
});

describe('rollout undo', () => {
  it('rolls back to the previous revision: its template without the hash label, its change-cause', async () => {
    await withHistory();
    const r = await cli.run([...server, 'rollout', 'undo', 'deployment/web']);
    expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/web rolled back\n', stderr: '' });
    const d = (await fake.get('Deployment', 'default', 'web'))!;
    expect(d.spec.template.spec.containers[0].image).toBe('web:2');
    expect(d.spec.template.metadata?.labels).toEqual({ app: 'web' });
    expect(d.metadata.annotations).toEqual({
      'deployment.kubernetes.io/revision': '3',
      'kubernetes.io/change-cause': 'image web:2',
      'bramble.io/last-applied': '{}',
    });
    expect(d.metadata.generation).toBe(2);
  });

  it('--to-revision N; an unknown revision is an error that changes nothing', async () => {
    await withHistory();
    const before = (await fake.get('Deployment', 'default', 'web'))!;
    const bad = await cli.run([...server, 'rollout', 'undo', 'deployment/web', '--to-revision', '7']);
    expect(bad).toMatchObject({ code: 1, stdout: '', stderr: 'error: unable to find specified revision 7 in history\n' });
    expect((await fake.get('Deployment', 'default', 'web'))!.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    const r = await cli.run([...server, 'rollout', 'undo', 'deployment/web', '--to-revision', '1']);
    expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/web rolled back\n' });
    const d = (await fake.get('Deployment', 'default', 'web'))!;
    expect(d.spec.template.spec.containers[0].image).toBe('web:1');
    expect(d.metadata.annotations?.['kubernetes.io/change-cause']).toBeUndefined();
  });

  it('skips a rollback to the template it runs; refuses a paused Deployment; needs two revisions', async () => {
    await withHistory();
    const same = await cli.run([...server, 'rollout', 'undo', 'deployment/web', '--to-revision', '3']);
    expect(same).toMatchObject({ code: 0, stdout: 'deployment.apps/web skipped rollback (current template already matches revision 3)\n' });
    await fake.put({ ...(await fake.get('Deployment', 'default', 'web'))!, spec: { ...(await fake.get('Deployment', 'default', 'web'))!.spec, paused: true } });
    const paused = await cli.run([...server, 'rollout', 'undo', 'deployment/web']);
    expect(paused.code).toBe(1);
    expect(paused.stderr).toBe("error: you cannot rollback a paused deployment; resume it first with 'bramble rollout resume deployment/web' and try again\n");
    const d = await fake.put(deployment('solo', 'x:1', { annotations: { 'deployment.kubernetes.io/revision': '1' } }));
    await fake.put(replicaSet(d, 1, 'x:1', { replicas: 3 }));
    const solo = await cli.run([...server, 'rollout', 'undo', 'deployment/solo']);
    expect(solo).toMatchObject({ code: 1, stderr: 'error: no rollout history found for deployment "solo"\n' });
  });
});

describe('rollout pause, resume, restart', () => {
  it('pause and resume set spec.paused; doing either twice is an error', async () => {
    await fake.put(deployment('web', 'web:1'));
    let r = await cli.run([...server, 'rollout', 'pause', 'deployment/web']);
    expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/web paused\n' });
    expect((await fake.get('Deployment', 'default', 'web'))!.spec.paused).toBe(true);
    r = await cli.run([...server, 'rollout', 'pause', 'deployment/web']);
    expect(r).toMatchObject({ code: 1, stderr: 'error: deployments.apps "web" is already paused\n' });
    r = await cli.run([...server, 'rollout', 'restart', 'deployment/web']);
    expect(r).toMatchObject({ code: 1, stderr: 'error: deployments.apps "web" can\'t restart paused deployment (run rollout resume first)\n' });
    r = await cli.run([...server, 'rollout', 'resume', 'deploy', 'web']);
    expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/web resumed\n' });
    expect((await fake.get('Deployment', 'default', 'web'))!.spec.paused).toBe(false);
    r = await cli.run([...server, 'rollout', 'resume', 'deploy', 'web']);
    expect(r).toMatchObject({ code: 1, stderr: 'error: deployments.apps "web" is not paused\n' });
  });

  it('restart stamps kubectl.kubernetes.io/restartedAt (RFC 3339) on the pod template', async () => {
    await fake.put(deployment('web', 'web:1'));
    const before = Date.now();
    const r = await cli.run([...server, 'rollout', 'restart', 'deployment/web']);
    expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/web restarted\n' });
    const d = (await fake.get('Deployment', 'default', 'web'))!;
    const at = d.spec.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'] ?? '';
    expect(at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(at)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(d.spec.template.metadata?.labels).toEqual({ app: 'web' });
    expect(d.metadata.generation).toBe(2);
  });

  it('several deployments at once; a missing one is reported and makes the command fail', async () => {
    await fake.put(deployment('a', 'web:1'));
    await fake.put(deployment('b', 'web:1'));
    const r = await cli.run([...server, 'rollout', 'pause', 'deployment/a', 'deployment/nope', 'deployment/b']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('deployment.apps/a paused\ndeployment.apps/b paused\n');
    expect(r.stderr).toBe('Error from server (NotFound): deployments.apps "nope" not found\n');
    expect((await fake.get('Deployment', 'default', 'b'))!.spec.paused).toBe(true);
  });
});
