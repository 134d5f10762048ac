// Pod volumes: the atomic writer, the projection of ConfigMaps/Secrets into files, and the
// process runtime materializing volumes, handing VOLUME_<NAME>, linking relative mountPaths
// and removing it all with the pod.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyDefaults, type ConfigMap, type Pod, type Secret } from '@bramble/api';
import { waitFor } from '@bramble/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigRefError } from '../src/pod-env.js';
import { configReferences, resolvePodVolumes } from '../src/pod-volumes.js';
import type { VolumeFile } from '../src/runtime/types.js';
import { ensureEmptyDir, volumeEnvName, writeConfigVolume } from '../src/runtime/volumes.js';
import { makePod, nodeCommand, RuntimeHarness, waitForStatus } from './fixtures/runtime-harness.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const file = (path: string, text: string, mode = 0o644): VolumeFile => ({ path, mode, contentBase64: b64(text) });
const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('the atomic volume writer', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bramble-volumes-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes every file with its mode behind a ..data symlink, leaving no temp directory', () => {
    const vol = join(dir, 'pods', 'u1', 'volumes', 'config');
    expect(writeConfigVolume(vol, [file('title', 'Todo'), file('conf/app.ini', 'x=1', 0o600)])).toBe(true);
    expect(readFileSync(join(vol, 'title'), 'utf8')).toBe('Todo');
    expect(readFileSync(join(vol, 'conf/app.ini'), 'utf8')).toBe('x=1');
    expect(modeOf(join(vol, 'title'))).toBe(0o644);
    expect(modeOf(join(vol, 'conf/app.ini'))).toBe(0o600);
    expect(lstatSync(join(vol, 'title')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(vol, '..data'))).toMatch(/^\.\.[0-9a-f]{20}$/);
    expect(readdirSync(join(dir, 'pods', 'u1', 'volumes'))).toEqual(['config']);
    // Same contents again: nothing to do.
    expect(writeConfigVolume(vol, [file('conf/app.ini', 'x=1', 0o600), file('title', 'Todo')])).toBe(false);
  });

  it('swaps to new contents in one step: changed keys updated, removed keys gone, old data removed', () => {
    const vol = join(dir, 'v');
    writeConfigVolume(vol, [file('a', '1'), file('b', '2')]);
    const before = readlinkSync(join(vol, '..data'));
    expect(writeConfigVolume(vol, [file('a', 'one'), file('c', '3')])).toBe(true);
    expect(readFileSync(join(vol, 'a'), 'utf8')).toBe('one');
    expect(readFileSync(join(vol, 'c'), 'utf8')).toBe('3');
    expect(existsSync(join(vol, 'b'))).toBe(false);
    const after = readlinkSync(join(vol, '..data'));
    expect(after).not.toBe(before);
    expect(readdirSync(vol).sort()).toEqual(['..data', after, 'a', 'c'].sort());
    // A mode change alone is a change too.
    expect(writeConfigVolume(vol, [file('a', 'one', 0o400), file('c', '3')])).toBe(true);
    expect(modeOf(join(vol, 'a'))).toBe(0o400);
  });

  it('an empty file list gives an empty volume (an optional source that is missing)', () => {
    const vol = join(dir, 'v');
    writeConfigVolume(vol, []);
    expect(readdirSync(vol).filter((e) => !e.startsWith('..'))).toEqual([]);
  });

  it('refuses paths that would leave the volume and duplicate paths, writing nothing', () => {
    const vol = join(dir, 'v');
    expect(() => writeConfigVolume(vol, [file('../escape', 'x')])).toThrow(/volume file path "..\/escape" must be a relative path/);
    expect(() => writeConfigVolume(vol, [file('/abs', 'x')])).toThrow(/must be a relative path/);
    expect(() => writeConfigVolume(vol, [file('a', 'x'), file('a', 'y')])).toThrow(/"a" is given twice/);
    expect(existsSync(vol)).toBe(false);
  });

  it('an emptyDir is created once and never emptied', () => {
    const vol = join(dir, 'scratch');
    expect(ensureEmptyDir(vol)).toBe(true);
    writeFileSync(join(vol, 'data'), 'kept');
    expect(ensureEmptyDir(vol)).toBe(false);
    expect(readFileSync(join(vol, 'data'), 'utf8')).toBe('kept');
  });

  it('names the env variable VOLUME_<NAME> with non-alphanumerics as _', () => {
    expect(volumeEnvName('config')).toBe('VOLUME_CONFIG');
    expect(volumeEnvName('my-cache.v2')).toBe('VOLUME_MY_CACHE_V2');
  });
});

describe('projecting ConfigMaps and Secrets into volume files', () => {
  const cm: ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'todo-config', namespace: 'default' }, data: { title: 'Todo', color: 'green' }, binaryData: { logo: b64('PNG') } };
  const secret: Secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'todo-secret', namespace: 'default' }, data: { password: b64('s3cret') } };
  const objects = { configMaps: new Map([['todo-config', cm]]), secrets: new Map([['todo-secret', secret]]) };
  const pod = (volumes: Pod['spec']['volumes']): Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', command: ['x'] }], volumes } });

  it('every key with defaultMode, binaryData decoded; secrets are 0600 unless the pod says otherwise', () => {
    const files = resolvePodVolumes(pod([{ name: 'cfg', configMap: { name: 'todo-config' } }, { name: 'sec', secret: { secretName: 'todo-secret' } }, { name: 'tmp', emptyDir: {} }]), objects);
    expect(files.cfg.map((f) => [f.path, f.mode, Buffer.from(f.contentBase64, 'base64').toString()]).sort()).toEqual([
      ['color', 0o644, 'green'],
      ['logo', 0o644, 'PNG'],
      ['title', 0o644, 'Todo'],
    ]);
    expect(files.sec).toEqual([{ path: 'password', mode: 0o600, contentBase64: b64('s3cret') }]);
    expect(files.tmp).toBeUndefined();
    // The API's defaults give the same modes to a pod as stored.
    const stored = applyDefaults(pod([{ name: 'cfg', configMap: { name: 'todo-config' } }, { name: 'sec', secret: { secretName: 'todo-secret' } }]));
    expect(stored.spec.volumes?.[0].configMap?.defaultMode).toBe(0o644);
    expect(stored.spec.volumes?.[1].secret?.defaultMode).toBe(0o600);
  });

  it('items pick keys, set paths and modes', () => {
    const files = resolvePodVolumes(pod([{ name: 'cfg', configMap: { name: 'todo-config', defaultMode: 0o640, items: [{ key: 'title', path: 'ui/title.txt' }, { key: 'color', path: 'color', mode: 0o400 }] } }]), objects);
    expect(files.cfg).toEqual([
      { path: 'ui/title.txt', mode: 0o640, contentBase64: b64('Todo') },
      { path: 'color', mode: 0o400, contentBase64: b64('green') },
    ]);
  });

  it('a missing source fails with FailedMount and the Kubernetes message; optional gives an empty volume', () => {
    const missing = () => resolvePodVolumes(pod([{ name: 'cfg', configMap: { name: 'nope' } }]), objects);
    expect(missing).toThrow(ConfigRefError);
    try {
      missing();
    } catch (err) {
      expect((err as ConfigRefError).message).toBe('MountVolume.SetUp failed for volume "cfg" : configmap "nope" not found');
      expect((err as ConfigRefError).eventReason).toBe('FailedMount');
      expect((err as ConfigRefError).waitingReason).toBe('ContainerCreating');
    }
    expect(() => resolvePodVolumes(pod([{ name: 's', secret: { secretName: 'gone' } }]), objects)).toThrow('MountVolume.SetUp failed for volume "s" : secret "gone" not found');
    expect(() => resolvePodVolumes(pod([{ name: 'cfg', configMap: { name: 'todo-config', items: [{ key: 'nokey', path: 'x' }] } }]), objects)).toThrow(
      'MountVolume.SetUp failed for volume "cfg" : configmap references non-existent config key: nokey',
    );
    expect(resolvePodVolumes(pod([{ name: 'cfg', configMap: { name: 'nope', optional: true } }]), objects)).toEqual({ cfg: [] });
    expect(resolvePodVolumes(pod([{ name: 'cfg', configMap: { name: 'todo-config', optional: true, items: [{ key: 'nokey', path: 'x' }] } }]), objects)).toEqual({ cfg: [] });
  });

  it('references cover env and volumes', () => {
    const p = pod([{ name: 'cfg', configMap: { name: 'a' } }, { name: 's', secret: { secretName: 'b' } }]);
    p.spec.containers[0].env = [{ name: 'X', valueFrom: { secretKeyRef: { name: 'c', key: 'k' } } }];
    const refs = configReferences(p);
    expect([...refs.configMaps]).toEqual(['a']);
    expect([...refs.secrets].sort()).toEqual(['b', 'c']);
  });
});

describe('volumes in the process runtime (real processes)', () => {
  let h: RuntimeHarness;
  beforeEach(async () => {
    h = await RuntimeHarness.create();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  async function get(base: string, path: string): Promise<{ status: number; text: string }> {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, text: await res.text() };
  }

  it('writes volumes before the container starts, hands VOLUME_<NAME>, links relative mountPaths, follows updates, removes it all with the pod', async () => {
    const rt = h.runtime();
    const work = join(h.dir, 'work');
    mkdirSync(work);
    const pod = makePod('vol', [
      {
        name: 'web',
        command: nodeCommand('volumes-server.mjs'),
        workingDir: work,
        ports: [{ containerPort: 8080 }],
        env: [{ name: 'TITLE_FILE', value: '$(VOLUME_CONFIG)/title' }],
        volumeMounts: [
          { name: 'config', mountPath: 'config' },
          { name: 'scratch', mountPath: '/data/scratch' },
          { name: 'config', mountPath: 'just-title', subPath: 'title' },
        ],
      },
    ]);
    pod.spec.volumes = [
      { name: 'config', configMap: { name: 'todo-config' } },
      { name: 'scratch', emptyDir: {} },
    ];
    const uid = pod.metadata.uid!;
    rt.syncPod({ pod, resolvedEnv: { web: [{ name: 'TITLE_FILE', value: '$(VOLUME_CONFIG)/title' }] }, volumeFiles: { config: [file('title', 'v1')] } });
    const st = await waitForStatus(rt, uid, 'running', (s) => s.phase === 'Running');
    const base = `http://127.0.0.1:${st.containerStatuses[0].ports![0].hostPort}`;
    const info = await waitFor('the server to answer', async () => {
      try {
        return (await fetch(`${base}/info`)).json();
      } catch {
        return undefined;
      }
    });
    const volRoot = join(h.dataDir, 'pods', uid, 'volumes');
    expect(info.env.VOLUME_CONFIG).toBe(join(volRoot, 'config'));
    expect(info.env.VOLUME_SCRATCH).toBe(join(volRoot, 'scratch'));
    expect(info.env.TITLE_FILE).toBe(join(volRoot, 'config', 'title'));
    expect(await get(base, `/read?path=${encodeURIComponent(info.env.TITLE_FILE)}`)).toEqual({ status: 200, text: 'v1' });
    // Relative mountPaths are symlinks in the working directory; an absolute one is not mounted.
    expect(await get(base, '/read?path=config/title')).toEqual({ status: 200, text: 'v1' });
    expect(await get(base, '/read?path=just-title')).toEqual({ status: 200, text: 'v1' });
    expect(existsSync('/data/scratch')).toBe(false);
    // The emptyDir is writable.
    expect((await get(base, `/write?path=${encodeURIComponent(join(info.env.VOLUME_SCRATCH, 'f'))}&v=hello`)).status).toBe(200);
    expect(readFileSync(join(volRoot, 'scratch', 'f'), 'utf8')).toBe('hello');

    // New contents: the same process reads them through the same paths.
    rt.syncPod({ pod, resolvedEnv: { web: [{ name: 'TITLE_FILE', value: '$(VOLUME_CONFIG)/title' }] }, volumeFiles: { config: [file('title', 'v2')] } });
    expect(await get(base, '/read?path=config/title')).toEqual({ status: 200, text: 'v2' });
    expect(readFileSync(join(volRoot, 'scratch', 'f'), 'utf8')).toBe('hello');
    expect(h.eventsFor(uid, 'Started')).toHaveLength(1);

    await rt.killPod(uid, 5);
    expect(existsSync(join(h.dataDir, 'pods', uid))).toBe(false);
    expect(existsSync(join(work, 'config'))).toBe(false);
    expect(existsSync(join(work, 'just-title'))).toBe(false);
    expect(readdirSync(work)).toEqual([]);
  }, 30_000);

  it('a relative mountPath over a real file is a config error naming it; the file is untouched', async () => {
    const rt = h.runtime();
    const work = join(h.dir, 'work2');
    mkdirSync(work);
    writeFileSync(join(work, 'config'), 'mine');
    const pod = makePod('clash', [{ name: 'web', command: nodeCommand('volumes-server.mjs'), workingDir: work, ports: [{ containerPort: 8080 }], volumeMounts: [{ name: 'config', mountPath: 'config' }] }]);
    pod.spec.volumes = [{ name: 'config', emptyDir: {} }];
    rt.syncPod({ pod, resolvedEnv: {} });
    const st = await waitForStatus(rt, pod.metadata.uid!, 'a config error', (s) => s.containerStatuses[0].state?.waiting?.reason === 'CreateContainerConfigError');
    expect(st.containerStatuses[0].state?.waiting?.message).toContain(`${join(work, 'config')} exists and is not a symlink`);
    expect(readFileSync(join(work, 'config'), 'utf8')).toBe('mine');
    await rt.killPod(pod.metadata.uid!, 0);
  }, 20_000);

  it('keeps volumes and adopted processes across a runtime restart', async () => {
    const rt = h.runtime();
    const pod = makePod('adopt', [{ name: 'web', command: nodeCommand('volumes-server.mjs'), ports: [{ containerPort: 8080 }], volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] }]);
    pod.spec.volumes = [{ name: 'scratch', emptyDir: {} }, { name: 'config', configMap: { name: 'c' } }];
    const uid = pod.metadata.uid!;
    rt.syncPod({ pod, resolvedEnv: {}, volumeFiles: { config: [file('k', 'v')] } });
    const st = await waitForStatus(rt, uid, 'running', (s) => s.phase === 'Running');
    const scratch = join(h.dataDir, 'pods', uid, 'volumes', 'scratch');
    writeFileSync(join(scratch, 'state'), 'survives');
    await rt.close();

    const rt2 = h.runtime();
    expect(await rt2.recover()).toEqual([uid]);
    rt2.syncPod({ pod, resolvedEnv: {}, volumeFiles: { config: [file('k', 'v')] } });
    const st2 = await waitForStatus(rt2, uid, 'running (adopted)', (s) => s.phase === 'Running');
    expect(st2.containerStatuses[0].containerID).toBe(st.containerStatuses[0].containerID);
    expect(readFileSync(join(scratch, 'state'), 'utf8')).toBe('survives');
    expect(readFileSync(join(h.dataDir, 'pods', uid, 'volumes', 'config', 'k'), 'utf8')).toBe('v');
    await rt2.killPod(uid, 5);
    expect(existsSync(join(h.dataDir, 'pods', uid))).toBe(false);
  }, 30_000);
});
