// Cleanup from outside the agent finds pod processes that overwrote their environment
// (redis-server rewrites its environ block when it sets its process title), through the
// process groups recorded in the agent's state file.
import { readFileSync } from 'node:fs';
import { waitFor } from '@bramble/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { killPodProcesses, podProcesses } from '../src/runtime/index.js';
import { AGENT_MARKER_ENV } from '../src/runtime/env.js';
import { isAlive, makePod, pidOf, RuntimeHarness, waitForStatus } from './fixtures/runtime-harness.js';

describe('finding an agent pod processes after the agent is gone', () => {
  let h: RuntimeHarness;
  beforeEach(async () => {
    h = await RuntimeHarness.create();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it('finds and kills a redis-server whose environment no longer carries the marker', async () => {
    const rt = h.runtime();
    const pod = makePod('redis', [
      { name: 'redis', command: ['redis-server', '--port', '$(PORT)', '--bind', '$(POD_IP)', '--save', '', '--appendonly', 'no', '--dir', h.dir], ports: [{ containerPort: 6379 }] },
    ]);
    rt.syncPod({ pod, resolvedEnv: {} });
    const st = await waitForStatus(rt, pod.metadata.uid!, 'running', (s) => s.phase === 'Running');
    const pid = pidOf(st);
    await waitFor('redis to overwrite its environment', () => !readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`${AGENT_MARKER_ENV}=`), 5_000, 20);
    await rt.close(); // the agent goes away; the process stays, as a kubelet's would

    expect(podProcesses(h.dataDir)).toEqual([{ pid, pgid: pid, podUid: pod.metadata.uid }]);
    expect(killPodProcesses(h.dataDir)).toBe(1);
    await waitFor('redis gone', () => !isAlive(pid), 5_000, 20);
    expect(podProcesses(h.dataDir)).toEqual([]);
  }, 20_000);
});
