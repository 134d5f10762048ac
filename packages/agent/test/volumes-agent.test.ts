// The agent's sync loop and configMap/secret volumes, against a fake API and a fake runtime:
// missing sources (FailedMount, rate-limited), start on creation (watch), updates reaching the runtime.
import type { ConfigMap, Pod, Secret } from '@bramble/api';
import { waitFor } from '@bramble/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, harness, type Harness } from './agent-harness.js';
import { boundPod } from './fakes.js';

afterEach(cleanup);

const podOf = (h: Harness, name: string): Pod | undefined => h.resources.peek('Pod', 'default', name);
const syncsOf = (h: Harness, uid: string) => h.runtime.synced.filter((s) => s.pod.metadata.uid === uid);
const configMap = (name: string, data: Record<string, string>): ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data });
const text = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

function volumePod(name: string): Pod {
  return boundPod(name, 'node1', {
    containers: [{ name: 'main', command: ['x'], volumeMounts: [{ name: 'cfg', mountPath: 'cfg' }, { name: 'creds', mountPath: 'creds' }] }],
    volumes: [
      { name: 'cfg', configMap: { name: 'app-config', defaultMode: 0o644 } },
      { name: 'creds', secret: { secretName: 'app-secret' } },
      { name: 'tmp', emptyDir: {} },
    ],
  });
}

describe('agent: configMap and secret volumes', () => {
  it('waits with FailedMount (one event, not one per retry) until the sources exist, then syncs the pod with their files', async () => {
    const h = await harness();
    await h.start({ configRetryMs: 20 });
    const pod = h.resources.put(volumePod('vp'));
    const uid = pod.metadata.uid!;
    const waiting = await waitFor('ContainerCreating with the mount error', () => {
      const p = podOf(h, 'vp');
      return p?.status?.containerStatuses?.[0]?.state?.waiting?.message ? p : undefined;
    });
    expect(waiting.status?.phase).toBe('Pending');
    expect(waiting.status?.containerStatuses?.[0].state?.waiting).toEqual({ reason: 'ContainerCreating', message: 'MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found' });
    // Retries every 20-160 ms; the event is recorded once (it repeats at most once a minute).
    // Events reach the masters in batches (up to 100 ms later): wait for it, then for more retries.
    const failedMounts = () => h.resources.events.filter((e) => e.involvedObject.uid === uid && e.reason === 'FailedMount');
    await waitFor('the FailedMount event', () => failedMounts().length > 0);
    const gets = () => h.resources.callsOf('get').filter((a) => a[0] === 'ConfigMap').length;
    const getsBefore = gets();
    await waitFor('several retries', () => gets() >= getsBefore + 3);
    const mountEvents = failedMounts();
    expect(mountEvents).toHaveLength(1);
    expect(mountEvents[0]).toMatchObject({ type: 'Warning', message: 'MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found' });
    expect(syncsOf(h, uid)).toHaveLength(0);

    h.resources.put(configMap('app-config', { title: 'Todo' }));
    await waitFor('the secret is now what is missing', () => podOf(h, 'vp')?.status?.containerStatuses?.[0]?.state?.waiting?.message?.includes('secret "app-secret" not found'));
    await waitFor('the second FailedMount event', () => failedMounts().length >= 2);
    expect(failedMounts()).toHaveLength(2);
    h.resources.put<Secret>({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'app-secret', namespace: 'default' }, data: { password: Buffer.from('pw').toString('base64') } });
    await waitFor('syncPod with the volume files', () => syncsOf(h, uid).length > 0);
    const spec = syncsOf(h, uid)[0];
    expect(spec.volumeFiles?.cfg.map((f) => [f.path, f.mode, text(f.contentBase64)])).toEqual([['title', 0o644, 'Todo']]);
    expect(spec.volumeFiles?.creds.map((f) => [f.path, f.mode, text(f.contentBase64)])).toEqual([['password', 0o600, 'pw']]);
    expect(spec.volumeFiles?.tmp).toBeUndefined();
    await waitFor('Running', () => podOf(h, 'vp')?.status?.phase === 'Running');
  });

  it('hands updated ConfigMap contents to the runtime; env-only pods are left alone', async () => {
    const h = await harness();
    h.resources.put(configMap('app-config', { title: 'v1' }));
    h.resources.put<Secret>({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'app-secret', namespace: 'default' }, data: { password: Buffer.from('pw').toString('base64') } });
    await h.start();
    const vol = h.resources.put(volumePod('vp'));
    const env = h.resources.put(boundPod('ep', 'node1', { containers: [{ name: 'main', command: ['x'], env: [{ name: 'T', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'title' } } }] }] }));
    await waitFor('both pods synced', () => syncsOf(h, vol.metadata.uid!).length > 0 && syncsOf(h, env.metadata.uid!).length === 1);
    await waitFor('Running', () => podOf(h, 'vp')?.status?.phase === 'Running' && podOf(h, 'ep')?.status?.phase === 'Running');

    h.resources.put(configMap('app-config', { title: 'v2', extra: 'x' }));
    const latest = () => syncsOf(h, vol.metadata.uid!).at(-1)!;
    await waitFor('the new title reaches the runtime', () => latest().volumeFiles?.cfg.some((f) => f.path === 'title' && text(f.contentBase64) === 'v2'));
    expect(latest().volumeFiles?.cfg.map((f) => f.path).sort()).toEqual(['extra', 'title']);
    // Env values are read when a container starts (as in Kubernetes): no re-sync of the env-only pod.
    expect(syncsOf(h, env.metadata.uid!)).toHaveLength(1);

    // Deleting the ConfigMap leaves the running pod alone (the files stay as they were) and says why.
    h.resources.forceRemove('ConfigMap', 'default', 'app-config');
    await waitFor('a FailedMount event', () => h.resources.events.find((e) => e.involvedObject.uid === vol.metadata.uid && e.reason === 'FailedMount'));
    expect(h.runtime.kills).toHaveLength(0);
    expect(podOf(h, 'vp')?.status?.phase).toBe('Running');
  });

  it('opens no ConfigMap/Secret watch while no pod needs one, and closes it on stop', async () => {
    const h = await harness();
    const agent = await h.start();
    h.resources.put(boundPod('plain', 'node1'));
    await waitFor('Running', () => podOf(h, 'plain')?.status?.phase === 'Running');
    // (Service and Endpoints are always watched, by the service proxy's cache.)
    const watched = () => h.resources.callsOf('watch').map((a) => a[0]).filter((k) => k !== 'Service' && k !== 'Endpoints');
    expect(watched()).toEqual(['Pod']);
    h.resources.put(configMap('app-config', { title: 'v1' }));
    h.resources.put<Secret>({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'app-secret', namespace: 'default' }, data: {} });
    h.resources.put(volumePod('vp'));
    await waitFor('Running', () => podOf(h, 'vp')?.status?.phase === 'Running');
    expect(watched().sort()).toEqual(['ConfigMap', 'Pod', 'Secret']);
    await agent.stop();
    expect(h.resources.openWatches).toBe(0);
  });
});
