// ConfigMaps, Secrets and volumes on real processes (issue 6 item 3): as env (valueFrom,
// envFrom) and as files; an updated ConfigMap reaches the file of a running pod; a pod that
// references a missing ConfigMap does not start and says why in an event, then starts once
// it is created; an emptyDir is writable and removed with its pod.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pod } from '@bramble/api';
import { OrchestratorCluster, waitFor } from '@bramble/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SERVER = fileURLToPath(new URL('../../packages/agent/test/fixtures/volumes-server.mjs', import.meta.url));

function pod(name: string, workDir: string, extra: Partial<Pod['spec']['containers'][0]> = {}, volumes: Pod['spec']['volumes'] = []): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { test: 'config' } },
    spec: {
      terminationGracePeriodSeconds: 5,
      containers: [{ name: 'web', command: [process.execPath, SERVER], workingDir: workDir, ports: [{ name: 'http', containerPort: 8080 }], ...extra }],
      volumes,
    },
  };
}

describe('ConfigMaps, Secrets and volumes on a process cluster', () => {
  let cluster: OrchestratorCluster;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'bramble-config-'));
    cluster = await OrchestratorCluster.start({ masters: 1, agents: 1 });
  }, 90_000);

  afterAll(async () => {
    await cluster?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }, 60_000);

  async function runningPod(name: string, timeoutMs = 30_000): Promise<Pod> {
    let last: Pod | undefined;
    return waitFor(
      `pod ${name} Running`,
      async () => {
        last = await cluster.resources().get('Pod', 'default', name);
        return last.status?.phase === 'Running' && last.status.containerStatuses?.[0]?.state?.running ? last : undefined;
      },
      timeoutMs,
      100,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last status ${JSON.stringify(last?.status)}`);
    });
  }

  async function serverOf(p: Pod): Promise<(path: string) => Promise<{ status: number; text: string }>> {
    const base = `http://${p.status!.podIP}:${p.status!.containerStatuses![0].ports![0].hostPort}`;
    const get = async (path: string) => {
      const res = await fetch(`${base}${path}`);
      return { status: res.status, text: await res.text() };
    };
    await waitFor('the pod server to answer', () => get('/info').then((r) => r.status === 200, () => false), 10_000, 50);
    return get;
  }

  it('hands ConfigMap and Secret values in as env and as files (secret files 0600), and an updated ConfigMap reaches the file', async () => {
    const r = cluster.resources();
    await r.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'todo-config', namespace: 'default' }, data: { TITLE: 'My to-dos', 'page.html': '<h1>v1</h1>' } });
    await r.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'todo-secret', namespace: 'default' }, stringData: { password: 'hunter2' } });
    const dir = join(work, 'env-and-files');
    mkdirSync(dir);
    await r.create(
      pod(
        'cfg',
        dir,
        {
          envFrom: [{ configMapRef: { name: 'todo-config' }, prefix: 'CFG_' }],
          env: [
            { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'todo-secret', key: 'password' } } },
            { name: 'MISSING_OK', valueFrom: { configMapKeyRef: { name: 'todo-config', key: 'nope', optional: true } } },
          ],
          volumeMounts: [
            { name: 'config', mountPath: 'config' },
            { name: 'secret', mountPath: '/etc/todo-secret', readOnly: true },
          ],
        },
        [
          { name: 'config', configMap: { name: 'todo-config' } },
          { name: 'secret', secret: { secretName: 'todo-secret' } },
        ],
      ),
    );
    const p = await runningPod('cfg');
    const get = await serverOf(p);
    const info = JSON.parse((await get('/info')).text);
    expect(info.env.CFG_TITLE).toBe('My to-dos');
    expect(info.env['CFG_page.html']).toBe('<h1>v1</h1>');
    expect(info.env.DB_PASSWORD).toBe('hunter2');
    expect(info.env.MISSING_OK).toBeUndefined();
    const agentDir = cluster.agents.get('node1')!.dataDir;
    expect(info.env.VOLUME_CONFIG).toBe(join(agentDir, 'pods', p.metadata.uid!, 'volumes', 'config'));
    expect(info.env.VOLUME_SECRET).toBe(join(agentDir, 'pods', p.metadata.uid!, 'volumes', 'secret'));
    // Files: through the relative mountPath's symlink, and through VOLUME_<NAME> for the absolute one.
    expect(await get('/read?path=config/page.html')).toEqual({ status: 200, text: '<h1>v1</h1>' });
    expect(await get(`/read?path=${encodeURIComponent(`${info.env.VOLUME_SECRET}/password`)}`)).toEqual({ status: 200, text: 'hunter2' });
    expect(statSync(join(info.env.VOLUME_SECRET, 'password')).mode & 0o777).toBe(0o600);
    expect(statSync(join(info.env.VOLUME_CONFIG, 'page.html')).mode & 0o777).toBe(0o644);

    await r.patch('ConfigMap', 'default', 'todo-config', { data: { 'page.html': '<h1>v2</h1>' } });
    await waitFor('the updated file in the running pod', async () => (await get('/read?path=config/page.html')).text === '<h1>v2</h1>', 10_000, 100);
    // Same process (env stays as started, as in Kubernetes).
    const after = await r.get('Pod', 'default', 'cfg');
    expect(after.status?.containerStatuses?.[0].restartCount).toBe(0);
    expect(JSON.parse((await get('/info')).text).env.CFG_TITLE).toBe('My to-dos');
  }, 60_000);

  it('keeps the pod and its volumes across an agent restart (adoption), and still follows ConfigMap updates', async () => {
    const r = cluster.resources();
    const before = await runningPod('cfg');
    const agentDir = cluster.agents.get('node1')!.dataDir;
    const file = join(agentDir, 'pods', before.metadata.uid!, 'volumes', 'config', 'page.html');
    const inode = statSync(file).ino;
    await cluster.killAgent('node1', 'SIGKILL');
    cluster.startAgent('node1');
    await cluster.waitForNodesReady(['node1']);
    await waitFor('the agent to adopt the pod (status written again)', async () => {
      const p = await r.get('Pod', 'default', 'cfg');
      return p.status?.phase === 'Running' && p.status.containerStatuses?.[0].containerID === before.status!.containerStatuses![0].containerID;
    }, 20_000, 100);
    const get = await serverOf(before);
    expect(await get('/read?path=config/page.html')).toEqual({ status: 200, text: '<h1>v2</h1>' });
    expect(statSync(file).ino).toBe(inode); // same contents: the volume was not rewritten
    await r.patch('ConfigMap', 'default', 'todo-config', { data: { 'page.html': '<h1>v3</h1>' } });
    await waitFor('the update after the restart', async () => (await get('/read?path=config/page.html')).text === '<h1>v3</h1>', 10_000, 100);
    expect((await r.get('Pod', 'default', 'cfg')).status?.containerStatuses?.[0].restartCount).toBe(0);
  }, 60_000);

  it('does not start a pod whose ConfigMap is missing, says why in an event, and starts it once the ConfigMap exists', async () => {
    const r = cluster.resources();
    const dir = join(work, 'late');
    mkdirSync(dir);
    await r.create(pod('late', dir, { env: [{ name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'late-config', key: 'greeting' } } }] }));
    const waiting = await waitFor(
      'CreateContainerConfigError',
      async () => {
        const p = await r.get('Pod', 'default', 'late');
        return p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError' ? p : undefined;
      },
      30_000,
      100,
    );
    expect(waiting.status?.phase).toBe('Pending');
    expect(waiting.status?.containerStatuses?.[0].state?.waiting?.message).toBe('configmap "late-config" not found');
    const event = await waitFor(
      'a Warning event naming the ConfigMap',
      async () => (await r.list('Event', { namespace: 'default' })).items.find((e) => e.involvedObject.name === 'late' && e.reason === 'Failed'),
      10_000,
      100,
    );
    expect(event.type).toBe('Warning');
    expect(event.message).toBe('Error: configmap "late-config" not found');
    expect(cluster.podProcesses('node1').some((proc) => proc.podUid === waiting.metadata.uid)).toBe(false);

    // A volume whose ConfigMap is missing: FailedMount.
    await r.create(pod('late-vol', dir, { volumeMounts: [{ name: 'c', mountPath: '/c' }] }, [{ name: 'c', configMap: { name: 'late-config' } }]));
    const mount = await waitFor(
      'a FailedMount event',
      async () => (await r.list('Event', { namespace: 'default' })).items.find((e) => e.involvedObject.name === 'late-vol' && e.reason === 'FailedMount'),
      30_000,
      100,
    );
    expect(mount.message).toBe('MountVolume.SetUp failed for volume "c" : configmap "late-config" not found');

    const createdAt = Date.now();
    await r.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late-config', namespace: 'default' }, data: { greeting: 'finally' } });
    const p = await runningPod('late');
    await runningPod('late-vol');
    // The ConfigMap watch starts them at once (the retry back-off alone could take up to 10 s).
    expect(Date.now() - createdAt).toBeLessThan(8_000);
    const get = await serverOf(p);
    expect(JSON.parse((await get('/info')).text).env.GREETING).toBe('finally');
    // One event for the whole wait, not one per retry.
    const failed = (await r.list('Event', { namespace: 'default' })).items.filter((e) => e.involvedObject.name === 'late' && e.reason === 'Failed');
    expect(failed).toHaveLength(1);
    expect(failed[0].count ?? 1).toBe(1);
  }, 90_000);

  it('gives a writable emptyDir that is removed with the pod', async () => {
    const r = cluster.resources();
    const dir = join(work, 'scratch');
    mkdirSync(dir);
    await r.create(pod('scratch', dir, { volumeMounts: [{ name: 'cache', mountPath: 'cache' }] }, [{ name: 'cache', emptyDir: {} }]));
    const p = await runningPod('scratch');
    const get = await serverOf(p);
    expect(await get('/write?path=cache/item&v=42')).toEqual({ status: 200, text: 'ok' });
    const volume = join(cluster.agents.get('node1')!.dataDir, 'pods', p.metadata.uid!, 'volumes', 'cache');
    expect(existsSync(join(volume, 'item'))).toBe(true);
    expect(existsSync(join(dir, 'cache'))).toBe(true);

    await r.delete('Pod', 'default', 'scratch');
    await waitFor('the pod gone from the API', () => r.get('Pod', 'default', 'scratch').then(() => false, () => true), 20_000, 100);
    await waitFor('its volumes and mount link removed', () => !existsSync(volume) && !existsSync(join(dir, 'cache')), 10_000, 50);
  }, 60_000);
});
