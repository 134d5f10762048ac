// Deferred controller events are written in batches: EventRecorder.settle() makes one
// recordEvents call per EVENT_BATCH_SIZE; MemoryClient.recordEvents aggregates like
// recordEvent and refuses a malformed batch whole; leaderGuard guards it.
import type { Pod } from '@bramble/api';
import { describe, expect, it } from 'vitest';
import { EventRecorder, leaderGuard, MemoryClient, NotLeaderError, type EventRecord } from '../src/index.js';
import { EVENT_BATCH_SIZE } from '../src/util/events.js';

function pod(name: string): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', uid: `uid-${name}` }, spec: { containers: [{ name: 'main', image: 'x' }] } };
}

function counting(client: MemoryClient): { single: number; batches: number[] } {
  const seen = { single: 0, batches: [] as number[] };
  const one = client.recordEvent.bind(client);
  const many = client.recordEvents.bind(client);
  client.recordEvent = async (r) => {
    seen.single++;
    return one(r);
  };
  client.recordEvents = async (rs) => {
    seen.batches.push(rs.length);
    return many(rs);
  };
  return seen;
}

describe('batched controller events', () => {
  it('settle() writes the deferred events with one recordEvents call per batch', async () => {
    const client = new MemoryClient();
    const seen = counting(client);
    const recorder = new EventRecorder(client, 'default-scheduler', 1000);
    const n = EVENT_BATCH_SIZE * 2 + 10;
    for (let i = 0; i < n; i++) recorder.defer(pod(`p${i}`), 'Normal', 'Scheduled', `Successfully assigned default/p${i} to n1`);
    expect(seen.batches).toEqual([]); // nothing written before settle
    await recorder.settle();
    expect(seen.batches).toEqual([EVENT_BATCH_SIZE, EVENT_BATCH_SIZE, 10]);
    expect(seen.single).toBe(0);
    const events = await client.list('Event');
    expect(events).toHaveLength(n);
    expect(events.every((e) => e.reason === 'Scheduled' && e.source?.component === 'default-scheduler' && e.count === 1)).toBe(true);
    // Settled: a second settle writes nothing.
    await recorder.settle();
    expect(seen.batches).toHaveLength(3);
  });

  it('MemoryClient.recordEvents merges identical events and bumps existing ones', async () => {
    const client = new MemoryClient();
    const record: EventRecord = { involvedObject: { kind: 'Pod', namespace: 'default', name: 'a', uid: 'u' }, type: 'Normal', reason: 'Started', message: 'm', component: 'kubelet', timeMs: 0 };
    await client.recordEvent(record);
    await client.recordEvents([record, { ...record, reason: 'Created' }, record]);
    const byReason = Object.fromEntries((await client.list('Event')).map((e) => [e.reason, e.count]));
    expect(byReason).toEqual({ Started: 3, Created: 1 });
    expect(client.writes.filter((w) => w.verb === 'event')).toHaveLength(4);
  });

  it('a malformed record or a failing write hook refuses the whole batch', async () => {
    const record: EventRecord = { involvedObject: { kind: 'Pod', namespace: 'default', name: 'a' }, type: 'Normal', reason: 'Started', message: 'm', component: 'kubelet', timeMs: 0 };
    const client = new MemoryClient();
    await expect(client.recordEvents([record, { ...record, type: 'Loud' } as unknown as EventRecord])).rejects.toThrow(/^events\[1\]: /);
    await expect(client.recordEvents([record, { ...record, timeMs: Number.NaN }])).rejects.toThrow('events[1]: timeMs: must be a number');
    expect(await client.list('Event')).toHaveLength(0);
    let calls = 0;
    const hooked = new MemoryClient({
      beforeWrite: (op) => {
        if (op.verb === 'event' && ++calls === 2) throw new Error('injected');
      },
    });
    await expect(hooked.recordEvents([record, { ...record, reason: 'Other' }])).rejects.toThrow('injected');
    expect(await hooked.list('Event')).toHaveLength(0);
  });

  it('leaderGuard refuses a batch once leadership is lost, and settle stops at the first refusal', async () => {
    const client = new MemoryClient();
    let leader = true;
    const guarded = leaderGuard(client, () => leader);
    const recorder = new EventRecorder(guarded, 'replicaset-controller', 0);
    recorder.defer(pod('a'), 'Normal', 'SuccessfulCreate', 'Created pod: a');
    await recorder.settle();
    expect(await client.list('Event')).toHaveLength(1);
    leader = false;
    for (let i = 0; i < EVENT_BATCH_SIZE + 1; i++) recorder.defer(pod(`p${i}`), 'Normal', 'SuccessfulCreate', `Created pod: p${i}`);
    await expect(recorder.settle()).rejects.toBeInstanceOf(NotLeaderError);
    await expect(guarded.recordEvents([])).rejects.toBeInstanceOf(NotLeaderError);
    expect(await client.list('Event')).toHaveLength(1);
  });
});
