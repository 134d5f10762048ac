// The agent's EventRecorder: events go as RecordEvents batches per window or per full batch,
// the queue is bounded (oldest dropped), a transiently failed batch is retried once.
// Fake timers: the windows pass when the test says so.
import { ApiError, type Pod } from '@bramble/api';
import { BrambleError, type ResourceEventRecord } from '@bramble/client';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventRecorder } from '../src/events.js';
import { AgentMetrics } from '../src/metrics.js';
import { FakeResources } from './fakes.js';

function pod(name: string): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', uid: `uid-${name}` }, spec: { containers: [{ name: 'main', image: 'x' }] } };
}

function setup(options: ConstructorParameters<typeof EventRecorder>[4] = {}) {
  const resources = new FakeResources();
  const metrics = new AgentMetrics();
  const recorder = new EventRecorder(resources, 'node1', pino({ level: 'silent' }), metrics, { flushMs: 100, retryMs: 1000, ...options });
  return { resources, metrics, recorder };
}

/** Makes the next `n` RecordEvents calls fail with `error`, counting every call. */
function failNext(resources: FakeResources, n: number, error: () => Error): { calls: number } {
  const seen = { calls: 0 };
  const real = resources.recordEvents.bind(resources);
  resources.recordEvents = async (records: ResourceEventRecord[]) => {
    seen.calls++;
    if (n-- > 0) throw error();
    return real(records);
  };
  return seen;
}

const unavailable = () => new BrambleError({ operation: 'record 1 events', code: 'UNAVAILABLE', details: 'connect ECONNREFUSED' });

describe('agent EventRecorder', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends the events of one window as one RecordEvents call', async () => {
    const { resources, recorder } = setup();
    recorder.record(pod('a'), 'Normal', 'Created', 'Created container main');
    await vi.advanceTimersByTimeAsync(50);
    recorder.record(pod('a'), 'Normal', 'Started', 'Started container main', 'spec.containers{main}');
    recorder.record(pod('b'), 'Warning', 'BackOff', 'Back-off restarting failed container');
    expect(resources.eventBatches).toEqual([]);
    await vi.advanceTimersByTimeAsync(50); // the first event's window is over
    expect(resources.eventBatches).toEqual([3]);
    expect(resources.events.map((e) => `${e.involvedObject.name}:${e.reason}`)).toEqual(['a:Created', 'a:Started', 'b:BackOff']);
    expect(resources.events[1]).toMatchObject({ component: 'kubelet', type: 'Normal', involvedObject: { kind: 'Pod', uid: 'uid-a', fieldPath: 'spec.containers{main}' } });
    // The next event opens a new window.
    recorder.record(pod('c'), 'Normal', 'Pulled', 'image present');
    await vi.advanceTimersByTimeAsync(100);
    expect(resources.eventBatches).toEqual([3, 1]);
  });

  it('a full batch goes at once, without waiting for the window', async () => {
    const { resources, recorder } = setup({ flushMs: 60_000, batchSize: 100 });
    for (let i = 0; i < 250; i++) recorder.record(pod(`p${i}`), 'Normal', 'Started', 'Started container main');
    // One batch in flight at a time: the next full one goes as soon as the previous is answered.
    for (let i = 0; i < 5; i++) await vi.advanceTimersByTimeAsync(1);
    expect(resources.eventBatches).toEqual([100, 100]);
    expect(recorder.queued).toBe(50);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(resources.eventBatches).toEqual([100, 100, 50]);
    expect(resources.events.map((e) => e.involvedObject.name)).toEqual(Array.from({ length: 250 }, (_, i) => `p${i}`));
  });

  it('drops the oldest events when the queue is full, and counts them', async () => {
    const { resources, recorder, metrics } = setup({ flushMs: 60_000, maxQueued: 3 });
    for (let i = 0; i < 5; i++) recorder.record(pod(`p${i}`), 'Normal', 'Started', 'Started container main');
    expect(recorder.queued).toBe(3);
    expect(metrics.eventsDropped.value).toBe(2);
    await recorder.close(); // stopping sends what is left
    expect(resources.eventBatches).toEqual([3]);
    expect(resources.events.map((e) => e.involvedObject.name)).toEqual(['p2', 'p3', 'p4']);
    recorder.record(pod('late'), 'Normal', 'Killing', 'after close');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(resources.events).toHaveLength(3);
  });

  it('retries a batch that failed transiently once, after the retry delay', async () => {
    const { resources, recorder, metrics } = setup();
    const seen = failNext(resources, 1, unavailable);
    recorder.record(pod('a'), 'Normal', 'Started', 'Started container main');
    await vi.advanceTimersByTimeAsync(100);
    expect(seen.calls).toBe(1);
    expect(resources.events).toHaveLength(0);
    recorder.record(pod('b'), 'Normal', 'Started', 'Started container main');
    await vi.advanceTimersByTimeAsync(999);
    expect(seen.calls).toBe(1); // the masters get the retry delay to recover
    await vi.advanceTimersByTimeAsync(1);
    expect(seen.calls).toBe(2);
    // The retried event first, in one batch with the one queued meanwhile.
    expect(resources.eventBatches).toEqual([2]);
    expect(resources.events.map((e) => e.involvedObject.name)).toEqual(['a', 'b']);
    expect(metrics.eventsDropped.value).toBe(0);
  });

  it('gives an event up after its retry fails too, and does not retry errors that are not transient', async () => {
    const { resources, recorder, metrics } = setup();
    const seen = failNext(resources, 2, unavailable);
    recorder.record(pod('a'), 'Normal', 'Started', 'Started container main');
    await vi.advanceTimersByTimeAsync(100);
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen.calls).toBe(2);
    expect(metrics.eventsDropped.value).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(seen.calls).toBe(2);

    const refused = failNext(resources, 1, () => new ApiError('NotFound', 'namespaces "gone" not found'));
    recorder.record(pod('b'), 'Normal', 'Started', 'Started container main');
    await vi.advanceTimersByTimeAsync(100);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(refused.calls).toBe(1);
    expect(metrics.eventsDropped.value).toBe(2);
    expect(resources.events).toHaveLength(0);
    // It keeps working afterwards.
    recorder.record(pod('c'), 'Normal', 'Started', 'Started container main');
    await vi.advanceTimersByTimeAsync(100);
    expect(resources.events.map((e) => e.involvedObject.name)).toEqual(['c']);
  });
});
