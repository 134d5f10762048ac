import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { podProcesses, waitFor } from '@bramble/testkit';
import { isAlive, makePod, nodeCommand, pidOf, RuntimeHarness, waitForStatus } from './fixtures/runtime-harness.js';

describe('recover(): adopting processes after an agent restart (real processes)', () => {
  let h: RuntimeHarness;
  beforeEach(async () => {
    h = await RuntimeHarness.create();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it('a new runtime on the same data dir adopts the live process: same pid, no second process, same ports', async () => {
    const a = h.runtime();
    const pod = makePod('web', [{ name: 'web', command: nodeCommand('server.mjs'), ports: [{ name: 'http', containerPort: 8080 }] }]);
    const uid = pod.metadata.uid!;
    a.syncPod({ pod, resolvedEnv: {} });
    const st = await waitForStatus(a, uid, 'running', (s) => s.phase === 'Running');
    const pid = pidOf(st);
    const hostPort = st.containerStatuses[0].ports![0].hostPort;
    await a.close();
    expect(isAlive(pid)).toBe(true);
    expect(() => a.syncPod({ pod, resolvedEnv: {} })).toThrow(/runtime is closed/);

    const state = JSON.parse(await readFile(join(h.dataDir, 'runtime-state.json'), 'utf8'));
    expect(state.pods[0].containers[0]).toMatchObject({ name: 'web', pid, pgid: pid, restartCount: 0 });
    expect(state.pods[0].containers[0].procStartTime).toBeGreaterThan(0);

    const b = h.runtime();
    expect(await b.recover()).toEqual([uid]);
    b.syncPod({ pod, resolvedEnv: {} });
    const adopted = await waitForStatus(b, uid, 'adopted and ready', (s) => s.phase === 'Running' && s.containerStatuses[0].ready);
    expect(pidOf(adopted)).toBe(pid);
    expect(adopted.containerStatuses[0].ports![0].hostPort).toBe(hostPort);
    expect(adopted.containerStatuses[0].restartCount).toBe(0);
    expect(b.hostPorts.isReserved(hostPort)).toBe(true);
    expect(h.eventsFor(uid, 'Started')).toHaveLength(1); // only A started it
    expect(podProcesses(h.dataDir).map((p) => p.pid)).toEqual([pid]);
    await waitFor('adopted server answering', async () => (await fetch(`http://127.0.0.1:${hostPort}/info`)).status === 200);
    await expect(b.recover()).rejects.toThrow(/already called/);

    // An adopted process is polled: its exit is noticed (exit code unknown) and it is restarted.
    process.kill(pid, 'SIGKILL');
    const after = await waitForStatus(b, uid, 'restarted after adopted exit', (s) => s.containerStatuses[0].restartCount === 1 && !!s.containerStatuses[0].state?.running);
    expect(after.containerStatuses[0].lastState?.terminated).toMatchObject({ exitCode: 137, reason: 'Unknown' });
    expect(after.containerStatuses[0].lastState?.terminated?.message).toMatch(/exit status unknown/);
    expect(after.containerStatuses[0].ports![0].hostPort).toBe(hostPort);

    // And it can be killed through B.
    const newPid = pidOf(after);
    await b.killPod(uid, 2);
    expect(isAlive(newPid)).toBe(false);
    expect(b.knownPods()).toEqual([]);
  });

  it('a dead recorded process is not adopted; syncPod restarts it per policy', async () => {
    const a = h.runtime();
    const pod = makePod('gone', [{ name: 'c', command: nodeCommand('chatter.mjs') }]);
    const uid = pod.metadata.uid!;
    a.syncPod({ pod, resolvedEnv: {} });
    const pid = pidOf(await waitForStatus(a, uid, 'running', (s) => s.phase === 'Running'));
    await a.close();
    process.kill(pid, 'SIGKILL');
    await waitFor('process gone', () => !isAlive(pid));

    const b = h.runtime();
    expect(await b.recover()).toEqual([uid]);
    const before = b.status(uid)!;
    expect(before.containerStatuses[0].state?.terminated).toMatchObject({ exitCode: 137, reason: 'Unknown' });
    b.syncPod({ pod, resolvedEnv: {} });
    const st = await waitForStatus(b, uid, 'restarted', (s) => !!s.containerStatuses[0].state?.running);
    expect(pidOf(st)).not.toBe(pid);
    expect(st.containerStatuses[0].restartCount).toBe(1);
    expect(st.containerStatuses[0].lastState?.terminated?.reason).toBe('Unknown');
  });

  it('a pod that finished stays finished across an agent restart; pods the API dropped are killed', async () => {
    const a = h.runtime();
    const job = makePod('job', [{ name: 'c', command: nodeCommand('exit.mjs', '0') }], { restartPolicy: 'OnFailure' });
    const stale = makePod('stale', [{ name: 'c', command: nodeCommand('chatter.mjs') }]);
    a.syncPod({ pod: job, resolvedEnv: {} });
    a.syncPod({ pod: stale, resolvedEnv: {} });
    await waitForStatus(a, job.metadata.uid!, 'Succeeded', (s) => s.phase === 'Succeeded');
    const stalePid = pidOf(await waitForStatus(a, stale.metadata.uid!, 'running', (s) => s.phase === 'Running'));
    await a.close();

    const b = h.runtime();
    expect((await b.recover()).sort()).toEqual([job.metadata.uid, stale.metadata.uid].sort());
    expect(b.status(job.metadata.uid!)!.phase).toBe('Succeeded');
    b.syncPod({ pod: job, resolvedEnv: {} });
    expect(b.status(job.metadata.uid!)!.phase).toBe('Succeeded');
    expect(h.eventsFor(job.metadata.uid!, 'Started')).toHaveLength(1);
    // The sync loop kills what the API no longer has, adopted processes included.
    await b.killPod(stale.metadata.uid!, 1);
    expect(isAlive(stalePid)).toBe(false);
    expect(b.knownPods()).toEqual([job.metadata.uid]);
  });

  it('recover() with no state file knows nothing; a corrupt one is a clear error', async () => {
    const a = h.runtime();
    expect(await a.recover()).toEqual([]);
    const { writeFile, mkdir } = await import('node:fs/promises');
    await mkdir(h.dataDir, { recursive: true });
    await writeFile(join(h.dataDir, 'runtime-state.json'), '{oops');
    const b = h.runtime();
    await expect(b.recover()).rejects.toThrow(/runtime-state\.json is not valid JSON/);
  });
});

describe('usage()', () => {
  let h: RuntimeHarness;
  beforeEach(async () => {
    h = await RuntimeHarness.create();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it('reports RSS summed over the process group and CPU from tick deltas over at least a second', async () => {
    const rt = h.runtime();
    const burn = [process.execPath, '-e', 'setInterval(() => { const end = Date.now() + 40; while (Date.now() < end); }, 50)'];
    const pod = makePod('busy', [
      { name: 'burn', command: burn },
      { name: 'group', command: nodeCommand('stubborn.mjs') },
    ]);
    const uid = pod.metadata.uid!;
    rt.syncPod({ pod, resolvedEnv: {} });
    await waitForStatus(rt, uid, 'running', (s) => s.phase === 'Running');
    rt.usage(); // first sample
    const u = await waitFor('cpu measured', () => {
      const x = rt.usage().find((p) => p.uid === uid);
      return x && x.containers[0].cpuMillicores > 100 ? x : undefined;
    }, 10_000, 300);
    expect(u).toMatchObject({ namespace: 'default', name: 'busy' });
    const [burnUsage, groupUsage] = u.containers;
    expect(burnUsage.name).toBe('burn');
    expect(burnUsage.memoryBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(burnUsage.cpuMillicores).toBeLessThan(availableParallelism() * 1000 + 100);
    // Two node processes in that group: parent and grandchild.
    const single = burnUsage.memoryBytes;
    await waitFor('grandchild counted', () => (rt.usage().find((p) => p.uid === uid)!.containers[1].memoryBytes > single * 1.3 ? true : undefined));
    expect(groupUsage.name).toBe('group');
  });
});
