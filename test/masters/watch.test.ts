// Watch streams across failures: a watch on a follower keeps delivering every event,
// exactly once and in revision order, while the leader is killed; and a client whose
// watch member dies resumes on another member from the last revision it saw + 1.
import { describe, expect, it } from 'vitest';
import { grpcStatus, RawWatch, waitFor, type ProcessCluster, type RawClient, type RecordedEvent } from '@bramble/testkit';
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

describe('resource watches need a leader', () => {
  /** Collects what one Resources Watch stream delivers and how it ends. */
  function recordWatch(stream: ReturnType<RawClient['resourceWatch']>) {
    const seen: Array<{ type: string; name: string; rv: string }> = [];
    let ended: { code: number; details: string } | undefined;
    stream.on('data', (w: { type: string; object_json: string }) => {
      const obj = JSON.parse(w.object_json) as { metadata: { name?: string; resourceVersion?: string } };
      seen.push({ type: w.type, name: obj.metadata.name ?? '', rv: obj.metadata.resourceVersion ?? '' });
    });
    stream.on('error', (err: { code: number; details: string }) => (ended = { code: err.code, details: err.details }));
    return { seen, ended: () => ended, cancel: () => stream.cancel() };
  }

  const configMap = (name: string) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { k: 'v' } });

  it('a member cut off from the others ends its watches and refuses new ones (UNAVAILABLE), and serves them again once it has a leader', async () => {
    const cluster = await startCluster({ masters: 3, tickMs: 50 });
    const leader = await cluster.waitForLeader();
    const lonely = cluster.running().find((n) => n !== leader)!;
    const others = cluster.running().filter((n) => n !== lonely);
    await cluster.client(leader).resourcesCall('Create', { object_json: configMap('before') });

    const watch = recordWatch(cluster.client(lonely).resourceWatch({ kind: 'ConfigMap', send_initial_events: true }));
    await waitFor('the initial events and their BOOKMARK', () => watch.seen.some((e) => e.type === 'BOOKMARK'), 10_000);
    expect(watch.seen.filter((e) => e.type === 'ADDED').map((e) => e.name)).toEqual(['before']);
    const resumeFrom = watch.seen.find((e) => e.type === 'BOOKMARK')!.rv;

    for (const name of others) await cluster.kill(name, 'SIGKILL');
    await waitFor(`the watch on ${lonely} to end`, () => watch.ended() !== undefined, 10_000);
    expect(watch.ended()!.code).toBe(grpcStatus.UNAVAILABLE);
    expect(watch.ended()!.details).toMatch(new RegExp(`master ${lonely} has had no leader for \\d+ ms .*resume the watch on another master`));

    // A resumed watch is refused too: it would wait for changes this member cannot learn of.
    const refused = recordWatch(cluster.client(lonely).resourceWatch({ kind: 'ConfigMap', resource_version: resumeFrom }));
    await waitFor('the resumed watch to be refused', () => refused.ended() !== undefined, 10_000);
    expect(refused.ended()!.code).toBe(grpcStatus.UNAVAILABLE);
    expect(refused.ended()!.details).toMatch(/has had no leader/);

    await cluster.restart(others[0]);
    const newLeader = await cluster.waitForLeader(15_000);
    const resumed = recordWatch(cluster.client(lonely).resourceWatch({ kind: 'ConfigMap', resource_version: resumeFrom }));
    await waitFor('a write through the new leader', async () => {
      try {
        await cluster.client(newLeader).resourcesCall('Create', { object_json: configMap('after') });
        return true;
      } catch {
        return false;
      }
    }, 10_000);
    await waitFor(`the resumed watch on ${lonely} to deliver it`, () => resumed.seen.some((e) => e.type === 'ADDED' && e.name === 'after'), 10_000);
    expect(resumed.ended()).toBeUndefined();
    expect(resumed.seen.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED after']);
    resumed.cancel();
  });
});
