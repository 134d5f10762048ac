// PreVote and CheckQuorum (Raft dissertation §9.6 and §6.2), and the leader lease
// that makes a node ignore vote requests while it hears from a live leader (§4.2.3).
import { describe, expect, it } from 'vitest';
import { MessageType, NONE, Role, TRANSFER_CONTEXT, type Message } from '../src/index.js';
import { Cluster, bytes, msg, newRaft, ofType, persist, storageWithLog, type ClusterOptions } from './harness.js';

const ABC = ['a', 'b', 'c'];
const ET = 10;

/** A leader, a follower to cut off, and the history of (leader, term) seen after every tick. */
function rejoin(opts: ClusterOptions) {
  const c = new Cluster(ABC, opts);
  const leader = c.electLeader();
  leader.raft.propose(bytes('before'));
  c.stabilize();
  const term = leader.raft.status().term;
  const loner = ABC.find((id) => id !== leader.id)!;
  c.isolate(loner);
  c.tick(undefined, 20 * ET);
  const lonerTermWhileCut = c.get(loner).raft.status().term;
  c.heal();
  const seen = new Set<string>();
  for (let i = 0; i < 10 * ET; i++) {
    c.tick();
    const l = c.leader();
    seen.add(`${l?.id}@${l?.raft.status().term}`);
  }
  return { c, leader, term, loner, lonerTermWhileCut, seen };
}

describe('PreVote (dissertation §9.6): a rejoining node does not disrupt a healthy leader', () => {
  it('PartitionedNodeRejoinsWithoutDisruption: its term does not grow while cut off; the leader and term never change', () => {
    const { c, leader, term, loner, lonerTermWhileCut, seen } = rejoin({});
    expect(lonerTermWhileCut).toBe(term);
    expect([...seen]).toEqual([`${leader.id}@${term}`]);
    expect(c.get(loner).raft.status()).toMatchObject({ role: Role.Follower, leader: leader.id, term });
    leader.raft.propose(bytes('after'));
    c.stabilize();
    expect(c.appliedData(loner)).toEqual(['before', 'after']);
  });

  it('PartitionedNodeRejoinsWithoutDisruption has teeth: without PreVote the same rejoin bumps the term and deposes the leader', () => {
    const { c, leader, term, lonerTermWhileCut, seen } = rejoin({ preVote: false });
    expect(lonerTermWhileCut).toBeGreaterThan(term + 5);
    const now = c.leader()!;
    expect(now.raft.status().term).toBeGreaterThan(lonerTermWhileCut);
    expect(seen.has(`${leader.id}@${term}`)).toBe(false); // deposed at the first tick after the heal
  });

  it('PreCandidateDoesNotChangeTermOrVote: a pre-election leaves nothing to persist', () => {
    const storage = storageWithLog(ABC, [1], { term: 1 });
    const raft = newRaft('a', storage, { preVote: true });
    raft.campaign();
    expect(raft.status()).toMatchObject({ role: Role.PreCandidate, term: 1, vote: NONE });
    const rd = persist(raft, storage);
    expect(rd.hardState).toBeUndefined();
    expect(rd.mustSync).toBe(false);
    expect(ofType(rd, MessageType.PreVote).map((m) => [m.to, m.term])).toEqual([
      ['b', 2],
      ['c', 2],
    ]);
    raft.step(msg({ type: MessageType.PreVoteResp, from: 'b', to: 'a', term: 2 }));
    // A majority of pre-votes: now a real election, term 2.
    expect(raft.status()).toMatchObject({ role: Role.Candidate, term: 2, vote: 'a' });
  });

  it('GrantingPreVoteDoesNotChangeTermOrVote', () => {
    const storage = storageWithLog(ABC, [1], { term: 1 });
    const raft = newRaft('a', storage, { preVote: true });
    raft.step(msg({ type: MessageType.PreVote, from: 'b', to: 'a', term: 2, index: 1, logTerm: 1 }));
    const rd = persist(raft, storage);
    expect(ofType(rd, MessageType.PreVoteResp).map((m) => [m.to, m.reject, m.term])).toEqual([['b', false, 2]]);
    expect(rd.hardState).toBeUndefined();
    expect(raft.status()).toMatchObject({ term: 1, vote: NONE });
    // Still free to grant a real vote in term 2 to someone else.
    raft.step(msg({ type: MessageType.Vote, from: 'c', to: 'a', term: 2, index: 1, logTerm: 1 }));
    expect(raft.status()).toMatchObject({ term: 2, vote: 'c' });
  });
});

describe('CheckQuorum (dissertation §6.2): a leader that cannot reach a majority steps down', () => {
  it('LeaderInMinorityStepsDownAfterElectionTimeout; the majority elects a new leader', () => {
    const c = new Cluster(['a', 'b', 'c', 'd', 'e']);
    const old = c.electLeader();
    const term = old.raft.status().term;
    const buddy = c.allIds().find((id) => id !== old.id)!;
    const majority = c.allIds().filter((id) => id !== old.id && id !== buddy);
    c.partition([old.id, buddy], majority);
    // CheckQuorum looks back over one election timeout; contact made before the cut may count for one round.
    c.tick(undefined, 2 * ET);
    expect(old.raft.status()).toMatchObject({ role: Role.Follower, leader: NONE });
    const fresh = c.electLeader();
    expect(majority).toContain(fresh.id);
    expect(fresh.raft.status().term).toBeGreaterThan(term);
    // Nobody in the minority leads any more; the old leader refuses proposals.
    expect(() => old.raft.propose(bytes('lost'))).toThrow(/knows no leader/);
    c.heal();
    c.tick(undefined, 2);
    expect(old.raft.status()).toMatchObject({ role: Role.Follower, leader: fresh.id, term: fresh.raft.status().term });
  });

  it('LeaderInMinorityStepsDown has teeth: without CheckQuorum the cut-off leader keeps believing', () => {
    const c = new Cluster(['a', 'b', 'c', 'd', 'e'], { checkQuorum: false });
    const old = c.electLeader();
    c.isolate(old.id);
    c.tick(undefined, 20 * ET);
    expect(old.raft.status().role).toBe(Role.Leader);
  });

  it('LeaderWithQuorumStaysLeader: losing one follower of three is not losing the quorum', () => {
    const c = new Cluster(ABC);
    const l = c.electLeader();
    const term = l.raft.status().term;
    c.isolate(ABC.find((id) => id !== l.id)!);
    c.tick(undefined, 20 * ET);
    expect(l.raft.status()).toMatchObject({ role: Role.Leader, term });
  });
});

describe('Leader lease (dissertation §4.2.3): vote requests are ignored while a leader is heard from', () => {
  function followerOfA(checkQuorum = true) {
    const storage = storageWithLog(ABC, [1], { term: 2 });
    const raft = newRaft('b', storage, { preVote: true, checkQuorum });
    raft.step(msg({ type: MessageType.Heartbeat, from: 'a', to: 'b', term: 2 }));
    persist(raft, storage);
    return { raft, storage };
  }
  const voteFromC = (type: MessageType, term: number, context?: Uint8Array): Message =>
    msg({ type, from: 'c', to: 'b', term, index: 5, logTerm: 2, context });

  it('NodeInLeaseIgnoresVoteRequestOfHigherTerm', () => {
    const { raft, storage } = followerOfA();
    raft.step(voteFromC(MessageType.Vote, 5));
    raft.step(voteFromC(MessageType.PreVote, 5));
    const rd = persist(raft, storage);
    expect(rd.messages).toEqual([]);
    expect(rd.hardState).toBeUndefined();
    expect(raft.status()).toMatchObject({ term: 2, leader: 'a', vote: NONE });
  });

  it('NodeInLeaseIgnoresVoteRequest: also the leader itself', () => {
    const c = new Cluster(ABC);
    const l = c.electLeader();
    const term = l.raft.status().term;
    const other = ABC.find((id) => id !== l.id)!;
    l.raft.step(msg({ type: MessageType.Vote, from: other, to: l.id, term: term + 3, index: 99, logTerm: term }));
    expect(l.raft.status()).toMatchObject({ role: Role.Leader, term });
  });

  it('LeaseExpiresAfterElectionTimeoutWithoutLeader', () => {
    const { raft, storage } = followerOfA();
    for (let i = 0; i < ET - 1; i++) raft.tick(); // random = 0: its own timeout is exactly ET, not reached
    persist(raft, storage);
    raft.step(voteFromC(MessageType.Vote, 5));
    expect(raft.status().term).toBe(2); // still inside the lease
    raft.tick(); // now it times out itself and stops trusting a
    persist(raft, storage);
    raft.step(voteFromC(MessageType.Vote, 5));
    expect(raft.status()).toMatchObject({ term: 5, vote: 'c' });
  });

  it('NodeInLeaseGrantsVoteForLeadershipTransfer (TimeoutNow campaigns carry the transfer context)', () => {
    const { raft, storage } = followerOfA();
    raft.step(voteFromC(MessageType.Vote, 3, TRANSFER_CONTEXT));
    expect(ofType(persist(raft, storage), MessageType.VoteResp).map((m) => m.reject)).toEqual([false]);
    expect(raft.status()).toMatchObject({ term: 3, vote: 'c' });
  });

  it('NodeInLeaseIgnoresVoteRequest has teeth: without CheckQuorum there is no lease', () => {
    const { raft } = followerOfA(false);
    raft.step(voteFromC(MessageType.Vote, 5));
    expect(raft.status()).toMatchObject({ term: 5, vote: 'c' });
  });
});
