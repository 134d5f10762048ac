import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrashBackoff } from '../src/runtime/backoff.js';
import { isAlive, makePod, nodeCommand, pidOf, RuntimeHarness, waitForStatus } from './fixtures/runtime-harness.js';

describe('CrashBackoff', () => {
  it('doubles from the base up to the cap, and resets after a long run', () => {
    const b = new CrashBackoff(1000, 60_000, 600_000);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(() => b.next(10))).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    expect(b.next(600_000)).toBe(1000);
    expect(b.next(5)).toBe(2000);
  });
});

describe('restart policy and crash back-off (real processes)', () => {
  let h: RuntimeHarness;
  beforeEach(async () => {
    h = await RuntimeHarness.create();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it('kill -9 of the container process: restarted, restartCount 1, lastState has the signal', async () => {
    const rt = h.runtime();
    const pod = makePod('web', [{ name: 'web', command: nodeCommand('chatter.mjs'), ports: [{ containerPort: 80 }] }]);
    const uid = pod.metadata.uid!;
    rt.syncPod({ pod, resolvedEnv: {} });
    const first = await waitForStatus(rt, uid, 'running', (s) => s.phase === 'Running');
    const pid1 = pidOf(first);
    const hostPort = first.containerStatuses[0].ports![0].hostPort;
    process.kill(pid1, 'SIGKILL');
    const second = await waitForStatus(rt, uid, 'restarted', (s) => s.containerStatuses[0].restartCount === 1 && !!s.containerStatuses[0].state?.running);
    const c = second.containerStatuses[0];
    expect(pidOf(second)).not.toBe(pid1);
    expect(c.lastState?.terminated).toMatchObject({ exitCode: 137, signal: 9, reason: 'Error' });
    expect(c.lastState?.terminated?.startedAt).toBeTruthy();
    expect(c.lastState?.terminated?.finishedAt).toBeTruthy();
    expect(c.ports![0].hostPort).toBe(hostPort); // same host port across restarts
    expect(second.phase).toBe('Running');
    expect(h.eventsFor(uid, 'BackOff')[0].message).toMatch(/^Back-off restarting failed container web in pod web_default\(/);
  });

  it('Never: a failed container leaves the pod Failed and is not restarted', async () => {
    const rt = h.runtime();
    const pod = makePod('job', [{ name: 'main', command: nodeCommand('exit.mjs', '3') }], { restartPolicy: 'Never' });
    rt.syncPod({ pod, resolvedEnv: {} });
    const st = await waitForStatus(rt, pod.metadata.uid!, 'Failed', (s) => s.phase === 'Failed');
    expect(st.finished).toBe(true);
    expect(st.containerStatuses[0].state?.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
    expect(st.containerStatuses[0].restartCount).toBe(0);
    rt.syncPod({ pod, resolvedEnv: {} }); // a later sync does not start it again
    expect(rt.status(pod.metadata.uid!)!.phase).toBe('Failed');
    expect(h.eventsFor(pod.metadata.uid!, 'Started')).toHaveLength(1);
  });

  it('Never with kill -9: Failed, terminated with the signal', async () => {
    const rt = h.runtime();
    const pod = makePod('j', [{ name: 'main', command: nodeCommand('chatter.mjs') }], { restartPolicy: 'Never' });
    rt.syncPod({ pod, resolvedEnv: {} });
    const st = await waitForStatus(rt, pod.metadata.uid!, 'running', (s) => s.phase === 'Running');
    process.kill(pidOf(st), 'SIGKILL');
    const done = await waitForStatus(rt, pod.metadata.uid!, 'Failed', (s) => s.phase === 'Failed');
    expect(done.containerStatuses[0].state?.terminated).toMatchObject({ exitCode: 137, signal: 9 });
  });

  it('OnFailure with exit 0: Succeeded, not restarted; with exit 1: restarted', async () => {
    const rt = h.runtime();
    const ok = makePod('ok', [{ name: 'main', command: nodeCommand('exit.mjs', '0') }], { restartPolicy: 'OnFailure' });
    const bad = makePod('bad', [{ name: 'main', command: nodeCommand('exit.mjs', '1') }], { restartPolicy: 'OnFailure' });
    rt.syncPod({ pod: ok, resolvedEnv: {} });
    rt.syncPod({ pod: bad, resolvedEnv: {} });
    const st = await waitForStatus(rt, ok.metadata.uid!, 'Succeeded', (s) => s.phase === 'Succeeded');
    expect(st.finished).toBe(true);
    expect(st.containerStatuses[0].state?.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(st.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
    const b = await waitForStatus(rt, bad.metadata.uid!, 'restarted twice', (s) => s.containerStatuses[0].restartCount >= 2);
    expect(b.phase).toBe('Running');
    expect(b.finished).toBe(false);
  });

  it('a crash loop shows CrashLoopBackOff with growing delays', async () => {
    const rt = h.runtime({ crashBackoffBaseMs: 100, crashBackoffMaxMs: 800 });
    const pod = makePod('loop', [{ name: 'web', command: nodeCommand('exit.mjs', '2') }]);
    const uid = pod.metadata.uid!;
    const waits = new Map<number, string>(); // by restartCount: one back-off per crash
    const startedAtMs: number[] = [];
    rt.onStatusChange((u) => {
      const c = rt.status(u)?.containerStatuses[0];
      const w = c?.state?.waiting;
      if (u === uid && w?.reason === 'CrashLoopBackOff' && !waits.has(c!.restartCount)) waits.set(c!.restartCount, w.message!);
    });
    rt.onEvent((e) => {
      if (e.podUid === uid && e.reason === 'Started') startedAtMs.push(performance.now());
    });
    rt.syncPod({ pod, resolvedEnv: {} });
    await waitForStatus(rt, uid, '5 restarts', (s) => s.containerStatuses[0].restartCount >= 5);
    const delaysMs = [...waits.values()].map((m) => {
      const x = /^back-off (\d+)(ms|s) restarting failed container=web pod=loop_default\(/.exec(m);
      expect(x, m).toBeTruthy();
      return Number(x![1]) * (x![2] === 's' ? 1000 : 1);
    });
    expect(delaysMs.slice(0, 5)).toEqual([100, 200, 400, 800, 800]);
    // The real gaps between starts grow too (each is at least its back-off).
    const gaps = startedAtMs.slice(1).map((t, i) => t - startedAtMs[i]);
    expect(gaps.length).toBeGreaterThanOrEqual(4);
    expect(gaps[0]).toBeGreaterThanOrEqual(90);
    expect(gaps[3]).toBeGreaterThanOrEqual(790);
    expect(gaps[3]).toBeGreaterThan(gaps[0]);
    expect(h.eventsFor(uid, 'BackOff').length).toBeGreaterThanOrEqual(5);
    const st = rt.status(uid)!;
    expect(st.phase).toBe('Running');
    expect(st.containerStatuses[0].lastState?.terminated?.exitCode).toBe(2);
  });

  it('a command that does not exist: StartError with a clear message, then back-off', async () => {
    const rt = h.runtime();
    const pod = makePod('nope', [{ name: 'c', command: ['/nonexistent/bramble-test-binary'] }], { restartPolicy: 'OnFailure' });
    rt.syncPod({ pod, resolvedEnv: {} });
    const st = await waitForStatus(rt, pod.metadata.uid!, 'back-off after StartError', (s) => !!s.containerStatuses[0].lastState?.terminated);
    expect(st.containerStatuses[0].lastState!.terminated).toMatchObject({ exitCode: 128, reason: 'StartError' });
    expect(st.containerStatuses[0].lastState!.terminated!.message).toMatch(/ENOENT/);
    expect(h.eventsFor(pod.metadata.uid!, 'Failed')[0].message).toMatch(/bramble-test-binary/);
  });

  it('a missing workingDir is a StartError naming the directory', async () => {
    const rt = h.runtime();
    const pod = makePod('wd', [{ name: 'c', command: nodeCommand('exit.mjs'), workingDir: '/nonexistent/dir' }], { restartPolicy: 'Never' });
    rt.syncPod({ pod, resolvedEnv: {} });
    const st = await waitForStatus(rt, pod.metadata.uid!, 'Failed', (s) => s.phase === 'Failed');
    expect(st.containerStatuses[0].state?.terminated?.message).toMatch(/workingDir \/nonexistent\/dir does not exist/);
  });

  it('two containers: Pending until both run; one crash restarts only that one', async () => {
    const rt = h.runtime();
    const pod = makePod('duo', [
      { name: 'a', command: nodeCommand('chatter.mjs') },
      { name: 'b', command: nodeCommand('chatter.mjs') },
    ]);
    const uid = pod.metadata.uid!;
    expect(() => rt.syncPod({ pod, resolvedEnv: {} })).not.toThrow();
    expect(rt.status(uid)!.phase).toBe('Pending');
    const st = await waitForStatus(rt, uid, 'both running', (s) => s.containerStatuses.every((c) => !!c.state?.running));
    const a = pidOf(st, 'a');
    const b = pidOf(st, 'b');
    process.kill(b, 'SIGKILL');
    await waitForStatus(rt, uid, 'b restarted', (s) => s.containerStatuses[1].restartCount === 1 && !!s.containerStatuses[1].state?.running);
    expect(pidOf(rt.status(uid)!, 'a')).toBe(a);
    expect(isAlive(a)).toBe(true);
  });
});
