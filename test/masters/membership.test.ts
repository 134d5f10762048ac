// Growing a live cluster from 3 to 5 masters (--join: added as a learner, promoted once
// caught up) and shrinking it back to 3 with MemberRemove, the leader included, while
// writes go on.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { waitFor, type ProcessCluster, type Reply } from '@bramble/testkit';
import { BackgroundWriters, readPrefix, startCluster } from './helpers.js';

interface MemberView {
  voters: string[];
  learners: string[];
}

async function memberList(cluster: ProcessCluster, via: string): Promise<MemberView> {
  const res = await cluster.client(via).clusterCall('MemberList', { linearizable: true });
  const members = res.members as Reply[];
  return {
    voters: members.filter((m) => !m.is_learner).map((m) => m.name).sort(),
    learners: members.filter((m) => m.is_learner).map((m) => m.name).sort(),
  };
}

/** Wait until a linearizable MemberList through `via` shows exactly these voters and no learner. */
async function waitForVoters(cluster: ProcessCluster, voters: string[], timeoutMs = 20_000): Promise<void> {
  const want = [...voters].sort();
  await waitFor(
    `voters ${want.join(',')} and no learners`,
    async () => {
      for (const via of cluster.running()) {
        try {
          const view = await memberList(cluster, via);
          return view.learners.length === 0 && view.voters.join(',') === want.join(',');
        } catch {
          // ask the next member
        }
      }
      return false;
    },
    timeoutMs,
    100,
  );
}

/** Wait until `name`'s process exits by itself (it applied its own removal), with exit code 0. */
async function waitForExit(cluster: ProcessCluster, name: string): Promise<void> {
  const m = cluster.members.get(name)!;
  await waitFor(`${name} to stop by itself after its removal`, () => m.proc!.exitCode !== null || m.proc!.signalCode !== null, 15_000);
  expect(m.proc!.exitCode, `${name} exit code`).toBe(0);
  expect(readFileSync(m.log, 'utf8')).toContain('removed from the cluster');
}

describe('membership', () => {
  it('grows 3 -> 5 with --join and shrinks back to 3 (leader included) under writes', async () => {
    const cluster = await startCluster({ masters: 3, tickMs: 50 });
    const writers = new BackgroundWriters(cluster, { prefix: 'members', writers: 4, timeoutMs: 2000, retrySameKey: true });
    try {
      await waitFor('the first writes', () => writers.acks.length >= 20, 10_000);

      // Grow: each new master asks to be added, is added as a learner, and the leader
      // promotes it once it has caught up. One change at a time.
      await cluster.addMember('m4');
      await waitForVoters(cluster, ['m1', 'm2', 'm3', 'm4']);
      await cluster.addMember('m5');
      await waitForVoters(cluster, ['m1', 'm2', 'm3', 'm4', 'm5']);
      await cluster.waitForMembers(['m4', 'm5']);
      let mark = Date.now();
      await waitFor('writes acknowledged by the 5-member cluster', () => writers.ackedSince(mark) >= 20, 15_000);

      // Shrink: first a follower, asked through another follower.
      const leader = await cluster.waitForLeader();
      const followers = cluster.running().filter((n) => n !== leader);
      const [victim, via] = followers;
      const removed = await cluster.client(via).clusterCall('MemberRemove', { name: victim }, 10_000);
      expect((removed.members as Reply[]).map((m) => m.name)).not.toContain(victim);
      await waitForExit(cluster, victim);
      await waitForVoters(cluster, cluster.running());

      // Then the leader itself, asked through a follower: leadership moves first.
      const via2 = cluster.running().find((n) => n !== leader)!;
      const removed2 = await cluster.client(via2).clusterCall('MemberRemove', { name: leader }, 10_000);
      expect((removed2.members as Reply[]).map((m) => m.name)).not.toContain(leader);
      await waitForExit(cluster, leader);
      const newLeader = await cluster.waitForLeader();
      expect(newLeader).not.toBe(leader);
      expect(cluster.running()).toHaveLength(3);
      await waitForVoters(cluster, cluster.running());

      mark = Date.now();
      await waitFor('writes acknowledged by the 3 remaining members', () => writers.ackedSince(mark) >= 20, 15_000);
    } finally {
      await writers.stop();
    }

    // Every remaining member holds every acknowledged write, and they agree exactly.
    const views = await Promise.all(cluster.running().map(async (m) => ({ m, kvs: await readPrefix(cluster.client(m), 'members/') })));
    const stored = new Map(views[0].kvs.map((kv) => [kv.key, kv.value]));
    const missing = writers.acks.filter((a) => stored.get(a.key) !== a.value).map((a) => a.key);
    expect(missing, 'acknowledged writes missing').toEqual([]);
    for (const v of views.slice(1)) expect(v.kvs, `${v.m} agrees with ${views[0].m}`).toEqual(views[0].kvs);
  });
});
