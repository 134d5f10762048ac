// Watch streams across failures: a watch on a follower keeps delivering every event,
// exactly once and in revision order, while the leader is killed; and a client whose
// watch member dies resumes on another member from the last revision it saw + 1.
import { describe, expect, it } from 'vitest';
import { RawWatch, waitFor, type ProcessCluster, type RecordedEvent } from '@bramble/testkit';
import { BackgroundWriters, startCluster } from './helpers.js';

const PREFIX = 'watch/';

/** The history a watch from `fromRevision` must deliver, read from a full Range on `member`. */
async function expectedHistory(cluster: ProcessCluster, member: string, fromRevision: number): Promise<{ upTo: number; events: string[] }> {
  const res = await cluster.client(member).get(PREFIX, { prefix: true }, 10_000);
  const upTo = Number(res.header.revision);
  // Every write uses a fresh key and nothing is deleted, so the current keys are the
  // whole history: one PUT event per key, at its mod_revision.
  const events = (res.kvs as Array<{ key: Buffer; mod_revision: number; version: number }>)
    .map((kv) => {
      expect(Number(kv.version), `${kv.key.toString()} was written once`).toBe(1);
      return { key: kv.key.toString(), rev: Number(kv.mod_revision) };
    })
    .filter((e) => e.rev >= fromRevision)
    .sort((a, b) => a.rev - b.rev)
    .map((e) => `PUT ${e.key}@${e.rev}`);
  return { upTo, events };
}

function delivered(events: RecordedEvent[], upTo: number): string[] {
  return events.filter((e) => e.modRevision <= upTo).map((e) => `${e.type} ${e.key}@${e.modRevision}`);
}

function expectStrictlyIncreasing(events: RecordedEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    expect(events[i].modRevision, `event ${i} (${events[i].key}) after ${events[i - 1].key}`).toBeGreaterThan(events[i - 1].modRevision);
  }
}

describe('watch', () => {
  it('a watch on a follower sees every event from its start revision exactly once across a leader kill -9', async () => {
    const cluster = await startCluster({ masters: 3, tickMs: 50 });
    const leader = await cluster.waitForLeader();
    const follower = cluster.running().find((n) => n !== leader)!;
    const start = Number((await cluster.client(leader).put(`${PREFIX}first`, 'v')).header.revision);

    const watch = new RawWatch(cluster.client(follower), { key: PREFIX, prefix: true, startRevision: start });
    await watch.created;
    // A fresh key per attempt: a write whose outcome is unknown is never repeated.
    const writers = new BackgroundWriters(cluster, { prefix: 'watch', writers: 4, timeoutMs: 1500, retrySameKey: false });
    try {
      await waitFor('100 writes before the kill', () => writers.acks.length >= 100, 15_000);
      const killedAtMs = Date.now();
      await cluster.kill(leader, 'SIGKILL');
      await cluster.waitForLeader(10_000);
      await waitFor('100 writes sent after the kill acknowledged', () => writers.ackedSince(killedAtMs) >= 100, 15_000);
    } finally {
      await writers.stop();
    }

    const want = await expectedHistory(cluster, follower, start);
    await waitFor(`the watch on ${follower} to reach revision ${want.upTo}`, () => watch.lastRevision() >= want.upTo, 10_000);
    expect(watch.alive, `watch still open (cancels: ${JSON.stringify(watch.cancels)}, error: ${watch.error?.message})`).toBe(true);
    expectStrictlyIncreasing(watch.events);
    expect(delivered(watch.events, want.upTo)).toEqual(want.events);
    watch.close();
  });

  it('resuming on another member from last seen + 1 after the watch member is killed leaves no gap', async () => {
    const cluster = await startCluster({ masters: 3, tickMs: 50 });
    const leader = await cluster.waitForLeader();
    const [first, second] = cluster.running().filter((n) => n !== leader);
    const start = Number((await cluster.client(leader).put(`${PREFIX}first`, 'v')).header.revision);

    const watch1 = new RawWatch(cluster.client(first), { key: PREFIX, prefix: true, startRevision: start });
    await watch1.created;
    const writers = new BackgroundWriters(cluster, { prefix: 'watch', writers: 4, timeoutMs: 1500, retrySameKey: false });
    let watch2: RawWatch;
    try {
      await waitFor(`100 events on ${first}`, () => watch1.events.length >= 100, 15_000);
      const killedAtMs = Date.now();
      await cluster.kill(first, 'SIGKILL');
      await waitFor(`the watch stream on ${first} to break`, () => !watch1.alive, 5_000);
      // What a client does: re-watch elsewhere from the revision after the last one it saw.
      const lastSeen = watch1.lastRevision();
      watch2 = new RawWatch(cluster.client(second), { key: PREFIX, prefix: true, startRevision: lastSeen + 1 });
      await watch2.created;
      await waitFor('100 writes sent after the kill acknowledged', () => writers.ackedSince(killedAtMs) >= 100, 15_000);
    } finally {
      await writers.stop();
    }

    const want = await expectedHistory(cluster, second, start);
    await waitFor(`the watch on ${second} to reach revision ${want.upTo}`, () => watch2.lastRevision() >= want.upTo, 10_000);
    expect(watch2.alive).toBe(true);
    const all = [...watch1.events, ...watch2.events];
    expectStrictlyIncreasing(all);
    expect(delivered(all, want.upTo)).toEqual(want.events);
    watch2.close();
  });
});
