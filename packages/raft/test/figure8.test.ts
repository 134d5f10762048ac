// Figure 8 of the Raft paper (§5.4.2): a leader cannot conclude that an entry from a
// previous term is committed just because it is stored on a majority. Such an entry
// can still be overwritten by a future leader; it becomes committed only indirectly,
// when an entry of the leader's current term is committed after it.
//
// Bramble's leaders append a no-op on election, so indexes differ from the paper's
// drawing by that one entry; the shape of the scenario is the same:
//   s1 leads term 4 and holds 2@2 (from term 2) and its own 3@4;
//   s5 holds 2@3, from a term-3 leader that never reached anyone.
import { describe, expect, it } from 'vitest';
import { MessageType, RaftNode, Role, committedIndex, type Message, type RaftConfig } from '../src/index.js';
import { Cluster, ids, makeLeader, msg, newRaft, persist, storageWithLog, type TestNode } from './harness.js';

const FIVE = ['s1', 's2', 's3', 's4', 's5'];

describe('Figure 8: committing entries from previous terms (§5.4.2)', () => {
  it('LeaderOnlyCommitsLogFromCurrentTerm (§5.4.2, Figure 8 (c)): a majority holding an old-term entry does not commit it', () => {
    const storage = storageWithLog(FIVE, [1, 2], { term: 3, commit: 1 });
    const s1 = newRaft('s1', storage, { preVote: false, checkQuorum: false });
    makeLeader(s1, storage, ['s2', 's3']);
    expect(s1.status()).toMatchObject({ role: Role.Leader, term: 4, lastIndex: 3 });
    expect(s1.termAt(3)).toBe(4);

    const ack = (from: string, index: number): Message => msg({ type: MessageType.AppResp, from, to: 's1', term: 4, index });
    s1.step(ack('s2', 2));
    s1.step(ack('s3', 2));
    // s1, s2 and s3 (3 of 5) store 2@2; counting replicas must not commit it.
    expect(s1.status()).toMatchObject({ commit: 1, applied: 1 });
    expect(persist(s1, storage).committedEntries).toEqual([]);

    s1.step(ack('s2', 3));
    expect(s1.status().commit).toBe(1); // 3@4 on 2 of 5
    s1.step(ack('s3', 3));
    // 3@4 on a majority: it commits, and 2@2 with it (Log Matching), never before.
    expect(s1.status().commit).toBe(3);
    expect(ids(persist(s1, storage).committedEntries)).toEqual(['2@2', '3@4']);
  });

  /**
   * Figure 8 (c): s1 leads term 4, gets 2@2 onto s3 and s4 (s2 already has it), but its
   * own 3@4 reaches nobody. Messages carry one entry each, and those that would deliver
   * 3@4 are lost, so the state is reached deterministically.
   */
  function figure8c(factory?: (cfg: RaftConfig) => RaftNode): { c: Cluster; s1: TestNode } {
    const c = new Cluster(FIVE, {
      factory,
      preVote: true,
      checkQuorum: false, // the scenario is about the commit rule; no leader lease in the way of s5's campaign
      raft: { maxSizePerMsgBytes: 1 },
      storages: {
        s1: storageWithLog(FIVE, [1, 2], { term: 3, commit: 1 }),
        s2: storageWithLog(FIVE, [1, 2], { term: 3, commit: 1 }),
        s3: storageWithLog(FIVE, [1], { term: 3, commit: 1 }),
        s4: storageWithLog(FIVE, [1], { term: 3, commit: 1 }),
        // s5 led term 3 (its 2@3 reached nobody) and has since heard of term 4.
        s5: storageWithLog(FIVE, [1, 3], { term: 4, commit: 1 }),
      },
    });
    // Lost: everything s1 sends s5, and every AppendEntries that would place 3@4 on a follower (its prev matches there).
    c.drop = (m) =>
      m.from === 's1' &&
      (m.to === 's5' || (m.type === MessageType.App && m.entries.some((e) => e.term === 4) && c.get(m.to).raft.termAt(m.index) === m.logTerm));
    const s1 = c.get('s1');
    s1.raft.campaign();
    c.stabilize();
    expect(s1.raft.status()).toMatchObject({ role: Role.Leader, term: 4 });
    c.tick(undefined, 5);
    for (const id of ['s1', 's2', 's3', 's4']) expect(c.log(id).slice(0, 2)).toEqual(['1@1', '2@2']);
    expect(c.log('s5')).toEqual(['1@1', '2@3']);
    expect(s1.raft.status().progress.s3.match).toBe(2);
    expect(s1.raft.status().progress.s4.match).toBe(2);
    return { c, s1 };
  }

  it('OldTermEntryOnMajorityIsNotCommitted (Figure 8 (c)): s1 knows 2@2 is on s1, s3 and s4 and still does not commit it', () => {
    const { c, s1 } = figure8c();
    expect(s1.raft.status().commit).toBe(1);
    for (const id of FIVE) expect(c.get(id).applied.map((e) => e.index)).toEqual([1]);
  });

  it('OldTermEntryOnMajorityMayBeOverwritten (Figure 8 (d)): after s1 crashes, s5 is elected and replaces 2@2 everywhere', () => {
    const { c, s1 } = figure8c();
    c.crash('s1');
    c.drop = undefined;
    // s5's last entry (2@3) is more up to date than 2@2: s2, s3 and s4 vote for it although they all hold 2@2.
    c.get('s5').raft.campaign();
    c.stabilize();
    expect(c.get('s5').raft.status()).toMatchObject({ role: Role.Leader, term: 5 });
    c.tick(undefined, 3);
    for (const id of ['s2', 's3', 's4', 's5']) expect(c.log(id)).toEqual(['1@1', '2@3', '3@5']);

    // Had s1 committed 2@2 by counting, it would have applied it: state machine safety would now be broken.
    expect(s1.applied.map((e) => e.index)).toEqual([1]);
    const restarted = c.restart('s1');
    c.tick(undefined, 3);
    expect(c.log('s1')).toEqual(['1@1', '2@3', '3@5']);
    for (const node of [restarted, ...['s2', 's3', 's4', 's5'].map((id) => c.get(id))]) {
      expect(ids(node.applied).filter((x) => x !== '1@1')).toEqual(['2@3', '3@5']);
    }
  });

  it('OldTermEntryCommitsIndirectlyWithCurrentTermEntry (Figure 8 (e)): once 3@4 is on a majority both commit, and s5 can no longer win', () => {
    const { c, s1 } = figure8c();
    // Now s1's term-4 entry reaches s2 and s3 (still not s4 or s5).
    c.drop = (m) => m.type === MessageType.App && m.from === 's1' && (m.to === 's4' || m.to === 's5');
    c.tick(undefined, 2);
    expect(s1.raft.status().commit).toBe(3);
    expect(ids(s1.applied)).toEqual(['1@1', '2@2', '3@4']);

    c.crash('s1');
    c.drop = undefined;
    c.get('s5').raft.campaign();
    c.stabilize();
    expect(c.get('s5').raft.status().role).not.toBe(Role.Leader);
    // Only s2 or s3 (which hold 3@4) can be elected (Leader Completeness); 2@2 stays and reaches everyone.
    const leader = c.electLeader();
    expect(['s2', 's3']).toContain(leader.id);
    c.tick(undefined, 3);
    c.restart('s1');
    c.tick(undefined, 3);
    for (const id of FIVE) {
      expect(c.log(id).slice(0, 3)).toEqual(['1@1', '2@2', '3@4']);
      expect(ids(c.get(id).applied).slice(0, 3)).toEqual(['1@1', '2@2', '3@4']);
    }
  });

  it('CountingReplicasWouldBreakSafety (Figure 8, the test has teeth): a leader that commits 2@2 by counting applies an entry the next leader does not have', () => {
    /** The rule Figure 8 forbids: commit whatever a majority stores, whatever its term. */
    class CountingLeader extends RaftNode {
      protected override maybeCommit(): boolean {
        const index = committedIndex(this.voters, (id) => this.prs.get(id)?.match ?? 0);
        if (index <= this.raftLog.committed) return false;
        this.raftLog.commitTo(index);
        return true;
      }
    }
    const { c, s1 } = figure8c((cfg) => (cfg.id === 's1' ? new CountingLeader(cfg) : new RaftNode(cfg)));
    expect(ids(s1.applied)).toEqual(['1@1', '2@2']); // applied to s1's state machine...
    c.crash('s1');
    c.drop = undefined;
    c.get('s5').raft.campaign();
    c.stabilize();
    // ...yet s5 wins with the votes of s2, s3 and s4 and leads with 2@3 at that index:
    // Leader Completeness (§5.4) is broken, which the real commit rule prevents.
    expect(c.get('s5').raft.status()).toMatchObject({ role: Role.Leader, term: 5 });
    expect(c.get('s5').raft.termAt(2)).toBe(3);
  });
});
