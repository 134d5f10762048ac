// Leadership transfer (Raft dissertation §3.10): the leader brings the transferee up
// to date, then sends it TimeoutNow so it campaigns at once, without waiting for a timeout.
import { describe, expect, it } from 'vitest';
import { ConfChangeRefusedError, MessageType, NONE, ProposalDroppedError, Role } from '../src/index.js';
import { Cluster, bytes } from './harness.js';

const ABC = ['a', 'b', 'c'];
const ET = 10;

function setup(opts: ConstructorParameters<typeof Cluster>[1] = {}) {
  const c = new Cluster(ABC, opts);
  const leader = c.electLeader();
  leader.raft.propose(bytes('v0'));
  c.stabilize();
  const [target, other] = ABC.filter((id) => id !== leader.id);
  return { c, leader, target, other, term: leader.raft.status().term };
}

describe('Leadership transfer (dissertation §3.10)', () => {
  it('TransferToUpToDateFollowerHappensAtOnce: TimeoutNow, the transferee leads in term + 1', () => {
    const { c, leader, target, term } = setup();
    leader.raft.transferLeader(target);
    c.stabilize(); // no tick: no election timeout involved
    expect(c.count((m) => m.type === MessageType.TimeoutNow && m.from === leader.id && m.to === target)).toBe(1);
    expect(c.get(target).raft.status()).toMatchObject({ role: Role.Leader, term: term + 1 });
    expect(leader.raft.status()).toMatchObject({ role: Role.Follower, leader: target, term: term + 1 });
    c.get(target).raft.propose(bytes('v1'));
    c.stabilize();
    for (const id of ABC) expect(c.appliedData(id)).toEqual(['v0', 'v1']);
  });

  it('TransferRequestedOnAFollowerIsForwardedToTheLeader', () => {
    const { c, other, target, term } = setup();
    c.get(other).raft.transferLeader(target);
    c.stabilize();
    expect(c.leader()!.id).toBe(target);
    expect(c.leader()!.raft.status().term).toBe(term + 1);
  });

  it('TransferToLaggingFollowerCatchesItUpFirst: TimeoutNow only once it holds the whole log', () => {
    const { c, leader, target, term } = setup();
    c.drop = (m) => m.type === MessageType.App && m.to === target;
    for (let i = 1; i <= 5; i++) {
      leader.raft.propose(bytes(`v${i}`));
      c.stabilize();
    }
    c.tick(undefined, 2);
    const last = leader.raft.lastIndex();
    expect(c.get(target).raft.lastIndex()).toBeLessThan(last);
    c.drop = undefined;

    const from = c.delivered.length;
    leader.raft.transferLeader(target);
    c.stabilize();
    const after = c.delivered.slice(from);
    const timeoutNow = after.findIndex((m) => m.type === MessageType.TimeoutNow);
    const caughtUp = after.findIndex((m) => m.type === MessageType.AppResp && m.from === target && !m.reject && m.index === last);
    expect(caughtUp).toBeGreaterThanOrEqual(0);
    expect(timeoutNow).toBeGreaterThan(caughtUp);
    expect(c.get(target).raft.status()).toMatchObject({ role: Role.Leader, term: term + 1 });
    c.tick(undefined, 2);
    expect(c.appliedData(target)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5']);
  });

  it('ProposalsRefusedDuringTransfer (ProposalDroppedError), conf changes too', () => {
    const { c, leader, target } = setup();
    c.isolate(target);
    leader.raft.transferLeader(target);
    c.stabilize();
    expect(leader.raft.status().leadTransferee).toBe(target);
    expect(() => leader.raft.propose(bytes('refused'))).toThrow(ProposalDroppedError);
    expect(() => leader.raft.propose(bytes('refused'))).toThrow(/transferring leadership to/);
    expect(() => leader.raft.proposeConfChange({ type: 'removeNode', nodeId: target })).toThrow(ConfChangeRefusedError);
  });

  it('TransferAbortedAfterElectionTimeout when the transferee is unreachable; proposals are accepted again', () => {
    const { c, leader, target, other, term } = setup();
    c.isolate(target);
    leader.raft.transferLeader(target);
    c.stabilize();
    c.tick(undefined, ET - 1);
    expect(leader.raft.status().leadTransferee).toBe(target);
    c.tick();
    expect(leader.raft.status()).toMatchObject({ role: Role.Leader, term, leadTransferee: NONE });
    leader.raft.propose(bytes('accepted'));
    c.stabilize();
    expect(c.appliedData(other)).toEqual(['v0', 'accepted']);
  });

  it('TransferToNonVoterIgnored: a learner, an unknown member, or the leader itself', () => {
    const c = new Cluster(ABC, { learners: ['d'] });
    const leader = c.electLeader();
    const term = leader.raft.status().term;
    for (const transferee of ['d', 'zz', leader.id]) {
      leader.raft.transferLeader(transferee);
      c.stabilize();
      expect(leader.raft.status()).toMatchObject({ role: Role.Leader, term, leadTransferee: NONE });
    }
    expect(c.count((m) => m.type === MessageType.TimeoutNow)).toBe(0);
    leader.raft.propose(bytes('accepted'));
    c.stabilize();
    expect(c.appliedData('d')).toEqual(['accepted']);
  });

  it('TransferToUpToDateFollowerHappensAtOnce even inside the leader lease (CheckQuorum on): the transfer campaign is forced', () => {
    const { c, leader, target, other, term } = setup({ checkQuorum: true, preVote: true });
    leader.raft.transferLeader(target);
    c.stabilize();
    expect(c.get(other).raft.status()).toMatchObject({ leader: target, term: term + 1 });
  });
});
