import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '@bramble/testkit';
import { groupAlive } from '../src/runtime/procfs.js';
import { isAlive, makePod, nodeCommand, pidOf, RuntimeHarness, waitForStatus } from './fixtures/runtime-harness.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

describe('killPod (real processes)', () => {
  let h: RuntimeHarness;
  beforeEach(async () => {
    h = await RuntimeHarness.create();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it('SIGTERM-ignoring process with a grandchild: both are gone after the grace period, and the pod is forgotten', async () => {
    const rt = h.runtime();
    const pod = makePod('stubborn', [{ name: 'main', command: nodeCommand('stubborn.mjs'), ports: [{ containerPort: 80 }] }]);
    const uid = pod.metadata.uid!;
    rt.syncPod({ pod, resolvedEnv: {} });
    const st = await waitForStatus(rt, uid, 'running', (s) => s.phase === 'Running');
    const pid = pidOf(st);
    const logPath = join(h.dataDir, 'pods', `default_stubborn_${uid}`, 'main', 'current.log');
    const grandchild = await waitFor('grandchild pid in the log', async () => {
      const m = /grandchild (\d+)/.exec(await readFile(logPath, 'utf8').catch(() => ''));
      return m ? Number(m[1]) : undefined;
    });
    expect(isAlive(grandchild)).toBe(true);

    let seen = '';
    const ac = new AbortController();
    const following = rt.logs(uid, { follow: true }, (chunk) => (seen += chunk.toString()), ac.signal);
    const t0 = Date.now();
    await rt.killPod(uid, 1);
    const tookMs = Date.now() - t0;
    expect(tookMs).toBeGreaterThanOrEqual(900); // it ignored SIGTERM: SIGKILL came after the grace period
    expect(isAlive(pid)).toBe(false);
    expect(isAlive(grandchild)).toBe(false);
    expect(groupAlive(pid)).toBe(false);
    expect(rt.status(uid)).toBeUndefined();
    expect(rt.knownPods()).toEqual([]);
    expect(h.eventsFor(uid, 'Killing').map((e) => e.message)).toEqual(['Stopping container main']);
    ac.abort();
    await following;
    expect(seen).toContain('parent ignoring SIGTERM'); // SIGTERM went first
    expect(h.eventsFor(uid, 'BackOff')).toHaveLength(0); // no restart while being killed
  });

  it('a well-behaved process exits on SIGTERM long before the grace period', async () => {
    const rt = h.runtime();
    const pod = makePod('polite', [{ name: 'web', command: nodeCommand('server.mjs'), ports: [{ containerPort: 80 }] }]);
    const uid = pod.metadata.uid!;
    rt.syncPod({ pod, resolvedEnv: {} });
    const st = await waitForStatus(rt, uid, 'running', (s) => s.phase === 'Running');
    const t0 = Date.now();
    await rt.killPod(uid, 30);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(isAlive(pidOf(st))).toBe(false);
  });

  it('killPod while ports are still being assigned starts nothing; repeated and unknown kills are fine', async () => {
    const rt = h.runtime();
    const pod = makePod('early', [{ name: 'web', command: nodeCommand('chatter.mjs'), ports: [{ containerPort: 80 }] }]);
    const uid = pod.metadata.uid!;
    rt.syncPod({ pod, resolvedEnv: {} });
    const a = rt.killPod(uid, 0);
    const b = rt.killPod(uid, 0);
    await Promise.all([a, b]);
    expect(h.eventsFor(uid, 'Started')).toHaveLength(0);
    expect(rt.knownPods()).toEqual([]);
    await rt.killPod('no-such-uid', 0);
    await expect(rt.killPod('x', -1)).resolves.toBeUndefined(); // unknown: nothing to validate against
  });

  it('rejects a negative grace period for a known pod', async () => {
    const rt = h.runtime();
    const pod = makePod('neg', [{ name: 'c', command: nodeCommand('chatter.mjs') }]);
    rt.syncPod({ pod, resolvedEnv: {} });
    await expect(rt.killPod(pod.metadata.uid!, -1)).rejects.toThrow(/gracePeriodSeconds must be a number >= 0 \(got -1\)/);
    expect(rt.knownPods()).toEqual([pod.metadata.uid]);
  });

  it('the host ports of a killed pod are released', async () => {
    const rt = h.runtime();
    const pod = makePod('ports', [{ name: 'c', command: nodeCommand('server.mjs'), ports: [{ containerPort: 80 }, { name: 'admin', containerPort: 81 }] }]);
    rt.syncPod({ pod, resolvedEnv: {} });
    const st = await waitForStatus(rt, pod.metadata.uid!, 'running', (s) => s.phase === 'Running');
    const ports = st.containerStatuses[0].ports!.map((p) => p.hostPort);
    expect(ports.every((p) => rt.hostPorts.isReserved(p))).toBe(true);
    await rt.killPod(pod.metadata.uid!, 5);
    expect(ports.some((p) => rt.hostPorts.isReserved(p))).toBe(false);
  });
});
