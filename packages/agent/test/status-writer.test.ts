// StatusWriter: a starting pod's first status is held back briefly, so a container that starts at
// once costs one write (Running), not two (Pending, then Running); a slow start is still reported.
import type { Pod, PodStatus } from '@bramble/api';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AgentMetrics } from '../src/metrics.js';
import { isStarting } from '../src/pod-status.js';
import { StatusWriter } from '../src/status-writer.js';
import { boundPod, FakeResources } from './fakes.js';

const creating: PodStatus = {
  phase: 'Pending',
  containerStatuses: [{ name: 'main', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }],
};
const running: PodStatus = {
  phase: 'Running',
  containerStatuses: [{ name: 'main', ready: true, restartCount: 0, state: { running: { startedAt: '2026-11-22T00:00:00Z' } } }],
};
const configError: PodStatus = {
  phase: 'Pending',
  containerStatuses: [{ name: 'main', ready: false, restartCount: 0, state: { waiting: { reason: 'CreateContainerConfigError', message: 'configmap "x" not found' } } }],
};

describe('StatusWriter holding back a starting pod\'s first status', () => {
  let resources: FakeResources;
  let pod: Pod;
  let current: PodStatus | undefined;
  let writer: StatusWriter;

  beforeEach(() => {
    vi.useFakeTimers();
    resources = new FakeResources();
    pod = resources.put(boundPod('web-1', 'node1'));
    current = undefined;
    writer = new StatusWriter({
      resources,
      desired: () => (current ? { pod, status: current } : undefined),
      observe: (p) => {
        pod = p;
      },
      concurrency: 4,
      firstWriteHoldMs: 250,
      isStarting,
      logger: pino({ level: 'silent' }),
      metrics: new AgentMetrics(),
    });
  });

  afterEach(() => {
    writer.stop();
    vi.useRealTimers();
  });

  const phasesWritten = (): string[] => resources.callsOf('updateStatus').map(([p]) => (p as Pod).status?.phase ?? '-');

  it('tells starting statuses apart', () => {
    expect(isStarting(creating)).toBe(true);
    expect(isStarting({ phase: 'Pending' })).toBe(true);
    expect(isStarting(running)).toBe(false);
    expect(isStarting(configError)).toBe(false);
  });

  it('a container running within the hold: one write, Running', async () => {
    current = creating;
    writer.markDirty(pod.metadata.uid!);
    await vi.advanceTimersByTimeAsync(100);
    expect(phasesWritten()).toEqual([]);
    expect(writer.pending).toBe(1);
    current = running;
    writer.markDirty(pod.metadata.uid!);
    await vi.advanceTimersByTimeAsync(0);
    expect(phasesWritten()).toEqual(['Running']);
    await vi.advanceTimersByTimeAsync(1_000); // the hold's timer was cleared: nothing more
    expect(phasesWritten()).toEqual(['Running']);
    expect(writer.pending).toBe(0);
  });

  it('a slow start: Pending is written when the hold ends, then Running at once', async () => {
    current = creating;
    writer.markDirty(pod.metadata.uid!);
    writer.markDirty(pod.metadata.uid!); // marking again does not extend the hold
    await vi.advanceTimersByTimeAsync(249);
    expect(phasesWritten()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(phasesWritten()).toEqual(['Pending']);
    current = running;
    writer.markDirty(pod.metadata.uid!);
    await vi.advanceTimersByTimeAsync(0);
    expect(phasesWritten()).toEqual(['Pending', 'Running']);
  });

  it('only the first write waits: a pod already reported is written at once, and so is a status that is not "starting"', async () => {
    current = configError;
    writer.markDirty(pod.metadata.uid!);
    await vi.advanceTimersByTimeAsync(0);
    expect(phasesWritten()).toEqual(['Pending']);
    current = creating; // e.g. the ConfigMap appeared and the container is being created
    writer.markDirty(pod.metadata.uid!);
    await vi.advanceTimersByTimeAsync(0);
    expect(phasesWritten()).toEqual(['Pending', 'Pending']);
  });

  it('a forgotten pod (deleted) is never written by its hold timer', async () => {
    current = creating;
    writer.markDirty(pod.metadata.uid!);
    writer.forget(pod.metadata.uid!);
    expect(writer.pending).toBe(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(phasesWritten()).toEqual([]);
  });
});
