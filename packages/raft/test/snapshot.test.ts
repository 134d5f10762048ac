// Log compaction and InstallSnapshot (Raft paper §7), and recovery from a snapshot
// plus the log after it when a node restarts.
import { describe, expect, it } from 'vitest';
import { MessageType, Role, type Snapshot } from '../src/index.js';
import { Cluster, bytes, ids, msg, newRaft, ofType, persist, storageWithLog, text, type TestNode } from './harness.js';

const ABC = ['a', 'b', 'c'];

function compact(node: TestNode, index = node.raft.status().applied): Snapshot {
  const snap = node.storage.createSnapshot(index, node.raft.confState(), bytes(`state@${index}`));
  node.storage.compact(index);
  return snap;
}

/** A follower cut off while the leader moves on and compacts past everything the follower has. */
function farBehind() {
  const c = new Cluster(ABC);
  const leader = c.electLeader();
  const lagging = c.get(ABC.find((id) => id !== leader.id)!);
  c.isolate(lagging.id);
  for (let i = 0; i < 20; i++) leader.raft.propose(bytes(`v${i}`));
  c.stabilize();
  const snap = compact(leader);
  for (let i = 20; i < 25; i++) leader.raft.propose(bytes(`v${i}`));
  c.stabilize();
  expect(lagging.raft.lastIndex()).toBeLessThan(leader.raft.firstIndex() - 1);
  return { c, leader, lagging, snap };
}

describe('InstallSnapshot (§7)', () => {
  it('FollowerFarBehindCompactedLeaderGetsSnapshotThenEntries', () => {
    const { c, leader, lagging, snap } = farBehind();
    const from = c.delivered.length;
    c.heal();
    c.tick(undefined, 3);

    const toLagging = c.delivered.slice(from).filter((m) => m.to === lagging.id && (m.type === MessageType.Snap || m.type === MessageType.App));
    const snapAt = toLagging.findIndex((m) => m.type === MessageType.Snap);
    expect(snapAt).toBeGreaterThanOrEqual(0);
    expect(toLagging.filter((m) => m.type === MessageType.Snap)).toHaveLength(1);
    const entriesAfter = toLagging.slice(snapAt + 1).flatMap((m) => m.entries);
    expect(entriesAfter[0].index).toBe(snap.meta.index + 1);

    expect(lagging.snapshots.map((s) => [s.meta.index, s.meta.term, text(s.data)])).toEqual([[snap.meta.index, snap.meta.term, text(snap.data)]]);
    expect(lagging.storage.firstIndex()).toBe(snap.meta.index + 1);
    expect(c.log(lagging.id)).toEqual(c.log(leader.id).filter((x) => Number(x.split('@')[0]) > snap.meta.index));
    expect(c.appliedData(lagging.id)).toEqual(['v20', 'v21', 'v22', 'v23', 'v24']); // the rest is in the snapshot
    expect(leader.raft.status().progress[lagging.id]).toMatchObject({ state: 'replicate', match: leader.raft.lastIndex() });
  });

  it('SnapshotLostInTransitIsResentAfterTheHostReportsFailure', () => {
    const { c, leader, lagging, snap } = farBehind();
    let lost = 0;
    c.drop = (m) => m.type === MessageType.Snap && lost++ === 0;
    c.heal();
    c.tick(undefined, 2);
    expect(leader.raft.status().progress[lagging.id].state).toBe('snapshot');
    leader.raft.reportSnapshot(lagging.id, false);
    c.tick(undefined, 3);
    expect(lagging.snapshots.map((s) => s.meta.index)).toEqual([snap.meta.index]);
    expect(lagging.raft.lastIndex()).toBe(leader.raft.lastIndex());
  });

  it('SnapshotReadyCarriesTheSnapshotAndNoCommittedEntries; applied jumps to its index', () => {
    const storage = storageWithLog(ABC, [1], { term: 1, commit: 1 });
    const raft = newRaft('a', storage);
    persist(raft, storage);
    const snapshot: Snapshot = { meta: { index: 10, term: 2, confState: { voters: ABC, learners: [] } }, data: bytes('sm@10') };
    raft.step(msg({ type: MessageType.Snap, from: 'b', to: 'a', term: 2, snapshot }));
    const rd = persist(raft, storage);
    expect(rd.snapshot).toBe(snapshot);
    expect(rd.committedEntries).toEqual([]);
    expect(rd.hardState).toMatchObject({ term: 2, commit: 10 });
    expect(ofType(rd, MessageType.AppResp)[0]).toMatchObject({ to: 'b', index: 10, reject: false });
    expect(raft.status()).toMatchObject({ applied: 10, commit: 10, lastIndex: 10 });
    expect(raft.firstIndex()).toBe(11);
    expect(storage.snapshot().meta.index).toBe(10);
  });

  it('StaleSnapshotIsIgnored: not newer than our commit index', () => {
    const storage = storageWithLog(ABC, [1, 1, 1, 1, 1], { term: 1, commit: 5 });
    const raft = newRaft('a', storage);
    const snapshot: Snapshot = { meta: { index: 3, term: 1, confState: { voters: ABC, learners: [] } }, data: bytes('old') };
    raft.step(msg({ type: MessageType.Snap, from: 'b', to: 'a', term: 1, snapshot }));
    const rd = persist(raft, storage);
    expect(rd.snapshot).toBeUndefined();
    expect(ofType(rd, MessageType.AppResp)[0]).toMatchObject({ index: 5, reject: false });
    expect(raft.lastIndex()).toBe(5);
  });

  it('SnapshotWhoseLastEntryWeHoldOnlyMovesCommitForward; the log after it is kept', () => {
    const storage = storageWithLog(ABC, [1, 1, 1, 1, 1], { term: 1, commit: 1 });
    const raft = newRaft('a', storage);
    const snapshot: Snapshot = { meta: { index: 3, term: 1, confState: { voters: ABC, learners: [] } }, data: bytes('s') };
    raft.step(msg({ type: MessageType.Snap, from: 'b', to: 'a', term: 1, snapshot }));
    const rd = persist(raft, storage);
    expect(rd.snapshot).toBeUndefined();
    expect(ids(rd.committedEntries)).toEqual(['1@1', '2@1', '3@1']);
    expect(raft.status()).toMatchObject({ commit: 3, lastIndex: 5 });
  });
});

describe('Restart from a snapshot and the log after it', () => {
  it('RestartRecoversStateAndReappliesCommittedEntriesAfterTheSnapshot (applied = snapshot index)', () => {
    const c = new Cluster(ABC);
    const leader = c.electLeader();
    for (let i = 0; i < 20; i++) leader.raft.propose(bytes(`v${i}`));
    c.stabilize();
    c.tick(undefined, 2);
    const b = c.get(ABC.find((id) => id !== leader.id)!);
    const before = b.raft.status();
    compact(b, 10);

    const storage = c.crash(b.id);
    const again = c.restart(b.id, storage);
    expect(again.raft.status()).toMatchObject({
      term: before.term,
      vote: before.vote,
      commit: before.commit,
      applied: 10,
      lastIndex: before.lastIndex,
      confState: before.confState,
      role: Role.Follower,
    });
    expect(again.raft.firstIndex()).toBe(11);
    const rd = again.raft.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual(Array.from({ length: before.commit - 10 }, (_, i) => 11 + i));
    expect(rd.entries).toEqual([]);
    expect(rd.snapshot).toBeUndefined();
    again.raft.advance(rd);
    expect(again.raft.status().applied).toBe(before.commit);

    // It rejoins and keeps up.
    leader.raft.propose(bytes('after-restart'));
    c.stabilize();
    expect(c.appliedData(b.id).slice(-1)).toEqual(['after-restart']);
  });

  it('RestartAfterInstallingASnapshotRecoversItsConfiguration', () => {
    const { c, leader, lagging, snap } = farBehind();
    c.heal();
    c.tick(undefined, 3);
    const storage = c.crash(lagging.id);
    const again = c.restart(lagging.id, storage);
    expect(again.raft.status()).toMatchObject({ applied: snap.meta.index, confState: { voters: ABC, learners: [] } });
    expect(again.raft.firstIndex()).toBe(snap.meta.index + 1);
    c.stabilize();
    expect(c.appliedData(lagging.id)).toEqual(['v20', 'v21', 'v22', 'v23', 'v24']);
    c.tick(undefined, 3 * 10);
    expect(c.leader()!.id).toBe(leader.id);
  });
});
