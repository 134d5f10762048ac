// The pod sync loop against a fake API and a fake runtime.
import type { ConfigMap, Pod, Secret } from '@bramble/api';
import { waitFor } from '@bramble/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { ADDRESS, cleanup, harness, type Harness } from './agent-harness.js';
import { boundPod } from './fakes.js';

afterEach(cleanup);

function podOf(h: Harness, name: string): Pod | undefined {
  return h.resources.peek('Pod', 'default', name);
}

function syncsOf(h: Harness, uid: string) {
  return h.runtime.synced.filter((s) => s.pod.metadata.uid === uid);
}

async function running(h: Harness, name: string): Promise<Pod> {
  return waitFor(`pod ${name} Running in the API`, () => {
    const p = podOf(h, name);
    return p?.status?.phase === 'Running' ? p : undefined;
  });
}

/** Let queued runtime notifications fire, then wait for the status writer to go idle. */
async function settle(h: Harness, agent: { pods: { statusWriter: { pending: number } } }): Promise<void> {
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  await waitFor('status writes to finish', () => agent.pods.statusWriter.pending === 0);
}

const configMap = (name: string, data: Record<string, string>): ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data });

describe('agent pods', () => {
  it('runs a bound pod with its env resolved and reports Running status and events', async () => {
    const h = await harness();
    h.resources.put(configMap('settings', { greeting: 'hello', 'color.mode': 'dark', 'bad key': 'x' }));
    h.resources.put<Secret>({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'creds', namespace: 'default' },
      data: { password: Buffer.from('s3cret').toString('base64') },
    });
    h.resources.put(boundPod('other-node-pod', 'node2'));
    const agent = await h.start();
    const pod = h.resources.put(
      boundPod('web', 'node1', {
        containers: [
          {
            name: 'main',
            command: ['node', 'server.js'],
            envFrom: [{ configMapRef: { name: 'settings' }, prefix: 'CFG_' }],
            env: [
              { name: 'PLAIN', value: 'v1' },
              { name: 'EXPANDED', value: '$(PLAIN)-x' },
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'POD_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
              { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
              { name: 'MY_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
              { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
              { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'settings', key: 'greeting' } } },
              { name: 'MAYBE', valueFrom: { configMapKeyRef: { name: 'absent', key: 'k', optional: true } } },
              { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
            ],
          },
        ],
      }),
    );
    const uid = pod.metadata.uid!;
    await waitFor('syncPod for web', () => syncsOf(h, uid).length > 0);
    const env = syncsOf(h, uid)[0].resolvedEnv.main;
    expect(env).toEqual([
      { name: 'CFG_greeting', value: 'hello' },
      { name: 'CFG_color.mode', value: 'dark' },
      { name: 'PLAIN', value: 'v1' },
      { name: 'EXPANDED', value: '$(PLAIN)-x' },
      { name: 'POD_NAME', value: 'web' },
      { name: 'POD_NS', value: 'default' },
      { name: 'POD_UID', value: uid },
      { name: 'NODE', value: 'node1' },
      { name: 'MY_IP', value: ADDRESS },
      { name: 'HOST_IP', value: ADDRESS },
      { name: 'GREETING', value: 'hello' },
      { name: 'PASSWORD', value: 's3cret' },
    ]);
    expect(h.runtime.synced.some((s) => s.pod.metadata.name === 'other-node-pod')).toBe(false);

    const stored = await running(h, 'web');
    expect(stored.status?.podIP).toBe(ADDRESS);
    expect(stored.status?.hostIP).toBe(ADDRESS);
    expect(stored.status?.startTime).toBe('2026-01-01T00:00:00Z');
    expect(stored.status?.conditions?.map((c) => `${c.type}=${c.status}`)).toEqual(['PodScheduled=True', 'Initialized=True', 'ContainersReady=True', 'Ready=True']);
    expect(stored.status?.containerStatuses?.[0]).toMatchObject({ name: 'main', ready: true, state: { running: {} } });

    await waitFor('the Started event', () => h.resources.events.find((e) => e.reason === 'Started'));
    const ev = h.resources.events.find((e) => e.reason === 'Started')!;
    expect(ev).toMatchObject({ component: 'kubelet', type: 'Normal', involvedObject: { kind: 'Pod', name: 'web', namespace: 'default', uid, fieldPath: 'spec.containers{main}' } });
    // Our own status write comes back through the watch: no second syncPod.
    await settle(h, agent);
    expect(syncsOf(h, uid)).toHaveLength(1);
  });

  it('reports CreateContainerConfigError while a ConfigMap is missing, then starts the pod when it appears', async () => {
    const h = await harness();
    const agent = await h.start();
    const pod = h.resources.put(
      boundPod('needs-config', 'node1', {
        containers: [{ name: 'main', command: ['x'], env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'late', key: 'a' } } }] }],
      }),
    );
    const uid = pod.metadata.uid!;
    const waiting = await waitFor('CreateContainerConfigError in status', () => {
      const p = podOf(h, 'needs-config');
      return p?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError' ? p : undefined;
    });
    expect(waiting.status?.phase).toBe('Pending');
    expect(waiting.status?.containerStatuses?.[0].state?.waiting?.message).toBe('configmap "late" not found');
    expect(waiting.status?.conditions?.find((c) => c.type === 'PodScheduled')?.status).toBe('True');
    const warning = await waitFor('a Warning event', () => h.resources.events.find((e) => e.type === 'Warning' && e.involvedObject.uid === uid));
    expect(warning.message).toContain('configmap "late" not found');
    expect(warning.involvedObject.fieldPath).toBe('spec.containers{main}');
    expect(syncsOf(h, uid)).toHaveLength(0);

    // A ConfigMap without the key: still an error, now naming the key.
    h.resources.put(configMap('late', { b: '1' }));
    await waitFor('the missing-key message', () => podOf(h, 'needs-config')?.status?.containerStatuses?.[0]?.state?.waiting?.message === "couldn't find key a in ConfigMap default/late");
    h.resources.put(configMap('late', { a: 'finally' }));
    await waitFor('syncPod once the key exists', () => syncsOf(h, uid).length > 0);
    expect(syncsOf(h, uid)[0].resolvedEnv.main).toEqual([{ name: 'A', value: 'finally' }]);
    await running(h, 'needs-config');
    await settle(h, agent);
    expect(syncsOf(h, uid)).toHaveLength(1);
  });

  it('kills a pod with deletionTimestamp, then deletes it with grace 0 and a uid precondition', async () => {
    const h = await harness();
    await h.start();
    const pod = h.resources.put(boundPod('doomed', 'node1'));
    const uid = pod.metadata.uid!;
    await running(h, 'doomed');
    h.runtime.killImmediately = false;
    await h.resources.delete('Pod', 'default', 'doomed'); // graceful: sets deletionTimestamp, grace 7 from the spec
    await waitFor('killPod', () => h.runtime.kills.length === 1);
    expect(h.runtime.kills[0]).toEqual({ uid, grace: 7 });
    const agentDeletes = () => h.resources.callsOf('delete').filter((a) => (a[3] as { gracePeriodSeconds?: number }).gracePeriodSeconds === 0);
    expect(agentDeletes()).toHaveLength(0); // not before the processes are gone
    expect(podOf(h, 'doomed')?.metadata.deletionTimestamp).toBeDefined();
    h.runtime.releaseKills();
    await waitFor('the pod gone from the API', () => podOf(h, 'doomed') === undefined);
    expect(agentDeletes()).toEqual([['Pod', 'default', 'doomed', { gracePeriodSeconds: 0, preconditions: { uid } }]]);
    expect(h.runtime.kills).toHaveLength(1);
  });

  it('kills a pod force-deleted from the API', async () => {
    const h = await harness();
    await h.start();
    const pod = h.resources.put(boundPod('forced', 'node1'));
    await running(h, 'forced');
    h.resources.forceRemove('Pod', 'default', 'forced');
    await waitFor('killPod', () => h.runtime.kills.find((k) => k.uid === pod.metadata.uid));
  });

  it('re-lists after the watch expires and kills pods the API no longer has', async () => {
    const h = await harness();
    const agent = await h.start();
    const keep = h.resources.put(boundPod('keep', 'node1'));
    const lost = h.resources.put(boundPod('lost', 'node1'));
    await running(h, 'keep');
    await running(h, 'lost');
    const lists = agent.podSource.lists;
    // The node controller force-deletes `lost` while our watch is broken: we never see the DELETED event.
    h.resources.forceRemove('Pod', 'default', 'lost', false);
    h.resources.expireWatches();
    await waitFor('a re-list', () => agent.podSource.lists > lists);
    await waitFor('the lost pod killed', () => h.runtime.kills.find((k) => k.uid === lost.metadata.uid));
    expect(h.runtime.kills.find((k) => k.uid === keep.metadata.uid)).toBeUndefined();
    expect(syncsOf(h, keep.metadata.uid!)).toHaveLength(1);
    // The watch works again from the new list.
    const later = h.resources.put(boundPod('later', 'node1'));
    await waitFor('syncPod for a pod created after the re-list', () => syncsOf(h, later.metadata.uid!).length === 1);
  });

  it('leaves pods untouched while the masters are unreachable', async () => {
    const h = await harness();
    const agent = await h.start();
    const pod = h.resources.put(boundPod('steady', 'node1'));
    await running(h, 'steady');
    const watches = h.resources.callsOf('watch').length;
    const open = h.resources.openWatches; // pods, plus the service cache's Services and Endpoints
    h.resources.setReachable(false);
    await waitFor('several failed watch attempts', () => h.resources.callsOf('watch').length >= watches + 3);
    expect(h.runtime.kills).toHaveLength(0);
    expect(h.runtime.status(pod.metadata.uid!)?.phase).toBe('Running');
    // A status change while cut off is written once the masters are back.
    h.runtime.setStatus(pod.metadata.uid!, { ...h.runtime.runningStatus(pod.metadata.uid!), containerStatuses: [{ name: 'main', ready: true, restartCount: 1, state: { running: {} } }] });
    h.resources.setReachable(true);
    await waitFor('restartCount 1 in the API', () => podOf(h, 'steady')?.status?.containerStatuses?.[0].restartCount === 1);
    await waitFor('the watches back', () => h.resources.openWatches === open);
    expect(h.runtime.kills).toHaveLength(0);
    expect(syncsOf(h, pod.metadata.uid!)).toHaveLength(1);
    await settle(h, agent);
  });

  it('writes status only when it changed, and retries a Conflict by re-reading', async () => {
    const h = await harness();
    const agent = await h.start();
    const pod = h.resources.put(boundPod('quiet', 'node1'));
    const uid = pod.metadata.uid!;
    await running(h, 'quiet');
    await settle(h, agent);
    const writes = () => h.resources.callsOf('updateStatus').length;
    const before = writes();
    for (let i = 0; i < 5; i++) h.runtime.changed(uid); // notifications without a change
    await settle(h, agent);
    expect(writes()).toBe(before);

    h.resources.conflictsToInject = 1;
    const st = h.runtime.runningStatus(uid);
    st.containerStatuses[0].restartCount = 2;
    h.runtime.setStatus(uid, st);
    await waitFor('restartCount 2 in the API', () => podOf(h, 'quiet')?.status?.containerStatuses?.[0].restartCount === 2);
    await settle(h, agent);
    expect(writes()).toBe(before + 2); // the conflicting attempt and the one after the re-read
    expect(h.resources.callsOf('get').some((a) => a[0] === 'Pod' && a[2] === 'quiet')).toBe(true);
    expect(agent.metrics.statusConflicts.value).toBe(1);
  });

  it('after a restart: recovers first, adopts listed pods without duplicating them, kills unknown ones', async () => {
    const h = await harness();
    const order: string[] = [];
    const recover = h.runtime.recover.bind(h.runtime);
    h.runtime.recover = async () => {
      order.push('recover');
      return recover();
    };
    const list = h.resources.list.bind(h.resources);
    h.resources.list = (async (...args: Parameters<typeof list>) => {
      order.push('list');
      return list(...args);
    }) as typeof list;
    const adopted = h.resources.put(boundPod('adopted', 'node1'));
    h.runtime.recovered = [adopted.metadata.uid!, 'uid-of-a-pod-deleted-while-we-were-down'];
    await h.start();
    expect(order.slice(0, 2)).toEqual(['recover', 'list']);
    await waitFor('the stale pod killed', () => h.runtime.kills.find((k) => k.uid === 'uid-of-a-pod-deleted-while-we-were-down'));
    expect(h.runtime.kills.find((k) => k.uid === 'uid-of-a-pod-deleted-while-we-were-down')?.grace).toBe(30);
    await waitFor('syncPod for the adopted pod', () => syncsOf(h, adopted.metadata.uid!).length === 1);
    expect(h.runtime.kills.find((k) => k.uid === adopted.metadata.uid)).toBeUndefined();
    await running(h, 'adopted');
  });

  it('records FailedSync when the runtime refuses a pod, and keeps running the others', async () => {
    const h = await harness();
    await h.start();
    h.runtime.refuse.add('bad');
    const bad = h.resources.put(boundPod('bad', 'node1'));
    await waitFor('a FailedSync event', () => h.resources.events.find((e) => e.reason === 'FailedSync' && e.involvedObject.uid === bad.metadata.uid));
    h.resources.put(boundPod('good', 'node1'));
    await running(h, 'good');
  });

  it('stops without killing pods', async () => {
    const h = await harness();
    const agent = await h.start();
    h.resources.put(boundPod('survivor', 'node1'));
    await running(h, 'survivor');
    await agent.stop();
    expect(h.runtime.closed).toBe(true);
    expect(h.runtime.kills).toHaveLength(0);
    expect(h.resources.openWatches).toBe(0);
    const beats = h.masterNodes.map((n) => n.heartbeats.length);
    // No timer survives stop(): further pod changes reach nobody.
    h.resources.put(boundPod('after-stop', 'node1'));
    expect(h.runtime.synced.some((s) => s.pod.metadata.name === 'after-stop')).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(h.masterNodes.map((n) => n.heartbeats.length)).toEqual(beats);
  });
});
