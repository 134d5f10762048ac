import { describe, expect, it } from 'vitest';
import { ConflictError, MemoryClient, NotLeaderError, ReplicaSetController, Scheduler, seededRandom } from '../src/index.js';
import { forEachBounded, slowStartBatch } from '../src/util/concurrency.js';
import { BatchCounter, countBy, FakeClock, node, pod, replicaSet } from './helpers.js';

/** A turn of the event loop, so concurrent calls really overlap. */
const yieldTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Wraps a client's writes to measure how many are in flight at once. */
function measureInFlight(client: MemoryClient, verbs: Array<'create' | 'bindPod' | 'delete'>): { max: () => number } {
  let current = 0;
  let max = 0;
  for (const verb of verbs) {
    const original = (client[verb] as (...args: unknown[]) => Promise<unknown>).bind(client);
    (client as unknown as Record<string, unknown>)[verb] = async (...args: unknown[]) => {
      current++;
      max = Math.max(max, current);
      try {
        await yieldTurn();
        return await original(...args);
      } finally {
        current--;
      }
    };
  }
  return { max: () => max };
}

describe('slowStartBatch', () => {
  it('runs batches of 1, 2, 4, ... up to the bound, each batch concurrently', async () => {
    const counter = new BatchCounter();
    const result = await slowStartBatch(40, () => counter.around(async () => undefined), { maxBatch: 8 });
    expect(result).toEqual({ succeeded: 40, skipped: 0, errors: [], nextBatch: 8 });
    expect(counter.batches).toEqual([1, 2, 4, 8, 8, 8, 8, 1]);
  });

  it('starts at initialBatch (a pass resuming where the last one stopped)', async () => {
    const counter = new BatchCounter();
    const result = await slowStartBatch(30, () => counter.around(async () => undefined), { initialBatch: 8, maxBatch: 16 });
    expect(counter.batches).toEqual([8, 16, 6]);
    expect(result.nextBatch).toBe(16);
  });

  it('stops after the first batch with an error', async () => {
    let calls = 0;
    const result = await slowStartBatch(100, async (i) => {
      calls++;
      if (i === 4) throw new Error('quota exceeded');
    });
    // Batches 1, 2 succeed; the batch of 4 (indexes 3-6) holds the failure and is the last.
    expect(calls).toBe(7);
    expect(result.succeeded).toBe(6);
    expect(result.skipped).toBe(93);
    expect(result.errors.map((e) => (e as Error).message)).toEqual(['quota exceeded']);
    expect(result.nextBatch).toBe(1);
  });

  it('rethrows leadership loss', async () => {
    await expect(slowStartBatch(5, async () => Promise.reject(new NotLeaderError('create pod')))).rejects.toBeInstanceOf(NotLeaderError);
  });
});

describe('forEachBounded', () => {
  it('keeps at most the bound in flight and visits every item', async () => {
    let inFlight = 0;
    let max = 0;
    const seen: number[] = [];
    await forEachBounded([...Array(100).keys()], 7, async (item) => {
      inFlight++;
      max = Math.max(max, inFlight);
      await yieldTurn();
      seen.push(item);
      inFlight--;
    });
    expect(max).toBe(7);
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(100).keys()]);
  });

  it('starts nothing new after an escaped error and rethrows leadership loss first', async () => {
    let started = 0;
    const run = forEachBounded([...Array(50).keys()], 4, async (i) => {
      started++;
      await yieldTurn();
      if (i === 0) throw new Error('boom');
      if (i === 2) throw new NotLeaderError('bind');
    });
    await expect(run).rejects.toBeInstanceOf(NotLeaderError);
    expect(started).toBe(4);
  });
});

describe('controllers write concurrently', () => {
  it('a ReplicaSet of 500 gets all its pods in one pass, creates in doubling slow-start batches (1, 2, 4 ... 128, then the rest)', async () => {
    const clock = new FakeClock();
    const client = new MemoryClient({ now: clock.now, random: seededRandom(3) });
    await client.create(replicaSet('web', 500));
    const inFlight = measureInFlight(client, ['create']);
    const report = await new ReplicaSetController(client, { random: seededRandom(4) }).runOnce(clock.nowMs);
    expect(report.errors).toEqual([]);
    const pods = await client.list('Pod');
    expect(pods).toHaveLength(500);
    expect(new Set(pods.map((p) => p.metadata.name)).size).toBe(500);
    // 1+2+...+128 = 255 created in the first eight batches; the ninth is the remaining 245 at once.
    expect(inFlight.max()).toBe(245);
    const rs = await client.get('ReplicaSet', 'default', 'web');
    expect(rs?.status?.replicas).toBe(500);
  });

  it('scaling 500 -> 0 deletes concurrently', async () => {
    const clock = new FakeClock();
    const client = new MemoryClient({ now: clock.now, random: seededRandom(3) });
    const rs = await client.create(replicaSet('web', 500));
    const controller = new ReplicaSetController(client, { random: seededRandom(4) });
    await controller.runOnce(clock.nowMs);
    const current = (await client.get('ReplicaSet', 'default', 'web'))!;
    await client.update({ ...current, spec: { ...rs.spec, replicas: 0 } });
    const inFlight = measureInFlight(client, ['delete']);
    await controller.runOnce(clock.advance(1000));
    expect(await client.list('Pod')).toHaveLength(0);
    expect(inFlight.max()).toBe(64);
  });

  it('the scheduler spreads 1,000 pods of one owner over 50 nodes evenly, binding concurrently', async () => {
    const clock = new FakeClock();
    const client = new MemoryClient({ now: clock.now, random: seededRandom(3) });
    for (let i = 0; i < 50; i++) await client.create(node(`node-${String(i).padStart(2, '0')}`));
    const owner = { kind: 'ReplicaSet', name: 'web', uid: 'uid-rs-web' };
    for (let i = 0; i < 1000; i++) await client.create(pod(`web-${i}`, { owner, cpu: '10m' }));
    const inFlight = measureInFlight(client, ['bindPod']);
    const report = await new Scheduler(client).runOnce(clock.nowMs);
    expect(report.errors).toEqual([]);
    const pods = await client.list('Pod');
    expect(pods.every((p) => p.spec.nodeName)).toBe(true);
    const perNode = Object.values(countBy(pods, (p) => p.spec.nodeName ?? ''));
    expect(perNode).toHaveLength(50);
    expect(perNode.every((n) => n === 20)).toBe(true);
    expect(inFlight.max()).toBe(64);
    expect((await client.list('Event')).filter((e) => e.reason === 'Scheduled')).toHaveLength(1000);
  });

  it('a binding that fails is forgotten: later pods of the pass may use the room, the pod waits for the next pass', async () => {
    const clock = new FakeClock();
    let failOnce = true;
    const client = new MemoryClient({
      now: clock.now,
      beforeWrite: (op) => {
        if (op.verb === 'bind' && op.name === 'p0' && failOnce) {
          failOnce = false;
          throw new ConflictError('Operation cannot be fulfilled on pods "p0": the object has been modified');
        }
      },
    });
    await client.create(node('n1', { cpu: '1' }));
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await client.create(pod(`p${i}`, { cpu: '500m' }));
    }
    const scheduler = new Scheduler(client);
    const first = await scheduler.runOnce(clock.nowMs);
    expect(first.conflicts).toHaveLength(1);
    // p0 and p1 were placed (p2 did not fit); p0's binding failed, so only p1 is bound.
    expect((await client.list('Pod')).filter((p) => p.spec.nodeName).map((p) => p.metadata.name)).toEqual(['p1']);
    await scheduler.runOnce(clock.advance(1000));
    expect((await client.list('Pod')).filter((p) => p.spec.nodeName).map((p) => p.metadata.name)).toEqual(['p0', 'p1']);
  });
});
