// ReadIndex (Raft dissertation §6.4): a linearizable read is served at the leader's
// commit index once a heartbeat round confirms it is still the leader, and never
// before the leader has committed an entry of its own term.
import { describe, expect, it } from 'vitest';
import { MessageType, ProposalDroppedError, Role, type Message } from '../src/index.js';
import { Cluster, bytes, makeLeader, msg, newRaft, ofType, persist, storageWithLog, text } from './harness.js';

const ABC = ['a', 'b', 'c'];
const FIVE = ['a', 'b', 'c', 'd', 'e'];
const ET = 10;

/** `a` as leader of term 2 over `voters`, its no-op (index 2) committed. */
function leaderWithCommittedNoOp(voters: string[]) {
  const storage = storageWithLog(voters, [1], { term: 1, commit: 1 });
  const raft = newRaft('a', storage, { preVote: false });
  makeLeader(raft, storage, voters.slice(1, Math.floor(voters.length / 2) + 1));
  for (const v of voters.slice(1)) raft.step(msg({ type: MessageType.AppResp, from: v, to: 'a', term: 2, index: 2 }));
  persist(raft, storage);
  expect(raft.status()).toMatchObject({ role: Role.Leader, term: 2, commit: 2 });
  return { raft, storage };
}

const ack = (from: string, ctx: Uint8Array): Message => msg({ type: MessageType.HeartbeatResp, from, to: 'a', term: 2, context: ctx });

describe('ReadIndex (dissertation §6.4)', () => {
  it('LeaderAnswersReadOnlyAfterHeartbeatQuorumAcks', () => {
    const { raft, storage } = leaderWithCommittedNoOp(FIVE);
    const ctx = bytes('read-1');
    raft.readIndex(ctx);
    const rd = persist(raft, storage);
    expect(rd.readStates).toEqual([]);
    const beats = ofType(rd, MessageType.Heartbeat);
    expect(beats.map((m) => m.to)).toEqual(['b', 'c', 'd', 'e']);
    for (const m of beats) expect(text(m.context!)).toBe('read-1');

    raft.step(msg({ type: MessageType.HeartbeatResp, from: 'b', to: 'a', term: 2 })); // an ordinary ack does not confirm the read
    raft.step(ack('c', ctx));
    expect(persist(raft, storage).readStates).toEqual([]); // self + c: 2 of 5
    raft.step(ack('c', ctx)); // a duplicate counts once
    expect(persist(raft, storage).readStates).toEqual([]);
    raft.step(ack('d', ctx));
    expect(persist(raft, storage).readStates).toEqual([{ index: 2, context: ctx }]); // 3 of 5
    raft.step(ack('e', ctx)); // late acks release nothing again
    expect(persist(raft, storage).readStates).toEqual([]);
  });

  it('ReadsAreConfirmedInOrder: an ack for a later read confirms the earlier ones', () => {
    const { raft, storage } = leaderWithCommittedNoOp(ABC);
    const first = bytes('first');
    const second = bytes('second');
    raft.readIndex(first);
    raft.propose(bytes('x')); // the second read comes after a new write: its index is not lower
    raft.readIndex(second);
    persist(raft, storage);
    raft.step(ack('b', second));
    expect(persist(raft, storage).readStates.map((r) => [text(r.context), r.index])).toEqual([
      ['first', 2],
      ['second', 2],
    ]);
  });

  it('NewLeaderDoesNotAnswerBeforeItsNoOpCommits: reads wait, then are released', () => {
    const c = new Cluster(ABC);
    const first = c.electLeader();
    first.raft.propose(bytes('w1'));
    c.stabilize();
    // A new leader whose no-op cannot commit yet (AppendEntries are lost; votes and heartbeats are not).
    first.raft.transferLeader(ABC.find((id) => id !== first.id)!);
    c.drop = (m) => m.type === MessageType.App;
    c.stabilize();
    const leader = c.leader()!;
    expect(leader.id).not.toBe(first.id);
    const noOp = leader.raft.lastIndex();
    expect(leader.raft.status().commit).toBeLessThan(noOp);

    leader.raft.readIndex(bytes('r'));
    c.tick(undefined, 3);
    expect(leader.readStates).toEqual([]);

    c.drop = undefined;
    c.tick(undefined, 2);
    expect(leader.raft.status().commit).toBe(noOp);
    expect(leader.readStates).toEqual([{ index: noOp, context: bytes('r') }]);
  });

  it('NewLeaderDoesNotAnswerBeforeItsNoOpCommits: no confirmation round even starts', () => {
    const storage = storageWithLog(ABC, [1], { term: 1, commit: 1 });
    const raft = newRaft('a', storage, { preVote: false });
    makeLeader(raft, storage, ['b']);
    raft.readIndex(bytes('early'));
    const rd = persist(raft, storage);
    expect(rd.readStates).toEqual([]);
    expect(ofType(rd, MessageType.Heartbeat)).toEqual([]);
    raft.step(ack('b', bytes('early'))); // even an ack cannot release it
    expect(persist(raft, storage).readStates).toEqual([]);

    raft.step(msg({ type: MessageType.AppResp, from: 'b', to: 'a', term: 2, index: 2 }));
    const confirming = persist(raft, storage);
    expect(ofType(confirming, MessageType.Heartbeat).map((m) => text(m.context!))).toEqual(['early', 'early']);
    raft.step(ack('c', bytes('early')));
    expect(persist(raft, storage).readStates).toEqual([{ index: 2, context: bytes('early') }]);
  });

  it('FollowerReadIndexIsForwardedAndAnswered, at an index covering every write completed before it', () => {
    const c = new Cluster(ABC);
    const leader = c.electLeader();
    leader.raft.propose(bytes('w1'));
    c.stabilize();
    const written = leader.raft.status().commit;
    const follower = c.get(ABC.find((id) => id !== leader.id)!);
    follower.raft.readIndex(bytes('f-read'));
    c.stabilize();
    expect(c.count((m) => m.type === MessageType.ReadIndex && m.from === follower.id && m.to === leader.id)).toBe(1);
    expect(c.count((m) => m.type === MessageType.ReadIndexResp && m.to === follower.id)).toBe(1);
    expect(follower.readStates).toEqual([{ index: written, context: bytes('f-read') }]);
    expect(follower.raft.status().applied).toBeGreaterThanOrEqual(written);
  });

  it('ReadIndexWithoutLeaderIsRefused (ProposalDroppedError)', () => {
    const storage = storageWithLog(ABC, [1], { term: 1 });
    const raft = newRaft('a', storage);
    expect(() => raft.readIndex(bytes('r'))).toThrow(ProposalDroppedError);
  });

  for (const checkQuorum of [true, false]) {
    it(`IsolatedLeaderNeverAnswersARead (checkQuorum ${checkQuorum}), even after the majority moved on and the partition heals`, () => {
      const c = new Cluster(ABC, { checkQuorum });
      const old = c.electLeader();
      old.raft.propose(bytes('w1'));
      c.stabilize();
      c.isolate(old.id);
      old.raft.readIndex(bytes('stale?'));
      c.tick(undefined, 5 * ET);
      expect(old.readStates).toEqual([]);
      const fresh = c.leader()!;
      expect(fresh.id).not.toBe(old.id);
      fresh.raft.propose(bytes('w2'));
      c.stabilize();
      c.heal();
      c.tick(undefined, 5 * ET);
      expect(old.readStates).toEqual([]);
      expect(old.raft.status()).toMatchObject({ role: Role.Follower, leader: fresh.id });
      expect(c.appliedData(old.id)).toEqual(['w1', 'w2']);
    });
  }
});
