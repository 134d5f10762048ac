// Figure 2 of the Raft paper ("In Search of an Understandable Consensus Algorithm",
// Ongaro & Ousterhout), one rule per test. Most tests drive a single RaftNode with
// crafted messages and read its Ready; a few need a whole Cluster.
import { describe, expect, it } from 'vitest';
import { MessageType, NONE, RaftNode, Role, type Entry, type HardState, type Message, type RaftConfig } from '../src/index.js';
import {
  Cluster,
  bytes,
  entry,
  ids,
  makeLeader,
  msg,
  newRaft,
  ofType,
  persist,
  storageWithLog,
  type RaftTuning,
} from './harness.js';

const ABC = ['a', 'b', 'c'];
const ET = 10; // electionTicks used by newRaft
/** Plain Raft: no PreVote, no CheckQuorum, so each Figure 2 rule shows without the extensions. */
const PLAIN: RaftTuning = { preVote: false, checkQuorum: false };

function node(terms: number[], hs: Partial<HardState> = {}, voters = ABC, tuning: RaftTuning = PLAIN) {
  const storage = storageWithLog(voters, terms, hs);
  const raft = newRaft('a', storage, tuning);
  return { raft, storage };
}

/** `a` as leader of term `term` over `voters`, its log `terms` followed by its no-op. */
function leader(terms: number[], term: number, voters = ABC) {
  const { raft, storage } = node(terms, { term: term - 1 }, voters);
  const won = makeLeader(raft, storage, voters.slice(1, Math.floor(voters.length / 2) + 1));
  expect(raft.status()).toMatchObject({ role: Role.Leader, term });
  return { raft, storage, won };
}

const app = (from: string, term: number, index: number, logTerm: number, entries: Entry[] = [], commit = 0): Message =>
  msg({ type: MessageType.App, from, to: 'a', term, index, logTerm, entries, commit });
const vote = (from: string, term: number, index: number, logTerm: number): Message =>
  msg({ type: MessageType.Vote, from, to: 'a', term, index, logTerm });
const appResp = (from: string, term: number, index: number): Message => msg({ type: MessageType.AppResp, from, to: 'a', term, index });

describe('Figure 2, Rules for Servers: All Servers', () => {
  it('AppliesCommittedEntriesInOrder (All Servers: if commitIndex > lastApplied, increment lastApplied and apply log[lastApplied])', () => {
    const { raft, storage } = node([1, 1, 1], { term: 1 });
    expect(persist(raft, storage).committedEntries).toEqual([]);

    raft.step(msg({ type: MessageType.Heartbeat, from: 'b', to: 'a', term: 1, commit: 2 }));
    const rd = persist(raft, storage);
    expect(ids(rd.committedEntries)).toEqual(['1@1', '2@1']);
    expect(raft.status().applied).toBe(2);

    raft.step(msg({ type: MessageType.Heartbeat, from: 'b', to: 'a', term: 1, commit: 3 }));
    // Only what was not applied yet, in log order.
    expect(ids(persist(raft, storage).committedEntries)).toEqual(['3@1']);
    expect(raft.hasReady()).toBe(false);
  });

  const higherTermMessages: [string, (term: number) => Message][] = [
    ['AppendEntries', (t) => app('b', t, 0, 0)],
    ['heartbeat', (t) => msg({ type: MessageType.Heartbeat, from: 'b', to: 'a', term: t })],
    ['AppendEntries response', (t) => appResp('b', t, 0)],
    ['heartbeat response', (t) => msg({ type: MessageType.HeartbeatResp, from: 'b', to: 'a', term: t })],
    ['RequestVote', (t) => vote('b', t, 0, 0)],
    ['RequestVote response (rejected)', (t) => msg({ type: MessageType.VoteResp, from: 'b', to: 'a', term: t, reject: true })],
  ];
  for (const role of [Role.Follower, Role.Candidate, Role.Leader]) {
    for (const [name, make] of higherTermMessages) {
      it(`StepsDownOnHigherTerm: ${role} receiving a ${name} (All Servers: if an RPC request or response contains term T > currentTerm, set currentTerm = T, convert to follower)`, () => {
        const { raft, storage } = node([1], { term: 1 });
        if (role === Role.Candidate) {
          raft.campaign();
          persist(raft, storage);
        }
        if (role === Role.Leader) makeLeader(raft, storage, ['b']);
        expect(raft.status().role).toBe(role);

        raft.step(make(7));
        const rd = persist(raft, storage);
        expect(raft.status()).toMatchObject({ term: 7, role: Role.Follower });
        expect(rd.hardState?.term).toBe(7);
      });
    }
  }
});

describe('Figure 2, Rules for Servers: Followers', () => {
  it('FollowerRespondsToRPCs (Followers: respond to RPCs from candidates and leaders)', () => {
    const { raft, storage } = node([1], { term: 1 });
    raft.step(vote('c', 2, 1, 1));
    raft.step(app('b', 2, 1, 1, [entry(2, 2)]));
    raft.step(msg({ type: MessageType.Heartbeat, from: 'b', to: 'a', term: 2 }));
    const rd = persist(raft, storage);
    expect(rd.messages.map((m) => [m.type, m.to, m.reject])).toEqual([
      [MessageType.VoteResp, 'c', false],
      [MessageType.AppResp, 'b', false],
      [MessageType.HeartbeatResp, 'b', false],
    ]);
  });

  it('FollowerBecomesCandidateAfterElectionTimeout (Followers: if election timeout elapses without receiving AppendEntries from current leader or granting vote, convert to candidate)', () => {
    const { raft } = node([1], { term: 1 });
    for (let i = 0; i < ET - 1; i++) raft.tick();
    expect(raft.status().role).toBe(Role.Follower);
    raft.tick();
    expect(raft.status()).toMatchObject({ role: Role.Candidate, term: 2, vote: 'a' });
  });

  it('FollowerElectionTimerIsResetByAppendEntries (Followers: ... without receiving AppendEntries from current leader)', () => {
    const { raft, storage } = node([1], { term: 1 });
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < ET - 1; i++) raft.tick();
      raft.step(app('b', 1, 1, 1, [], 1));
      persist(raft, storage);
    }
    expect(raft.status()).toMatchObject({ role: Role.Follower, term: 1, leader: 'b' });
    for (let i = 0; i < ET; i++) raft.tick();
    expect(raft.status().role).toBe(Role.Candidate);
  });

  it('FollowerElectionTimerIsResetByGrantingVote (Followers: ... or granting vote to candidate)', () => {
    const { raft, storage } = node([1], { term: 2 });
    for (let i = 0; i < ET - 1; i++) raft.tick();
    raft.step(vote('b', 2, 1, 1));
    expect(ofType(persist(raft, storage), MessageType.VoteResp)[0].reject).toBe(false);
    for (let i = 0; i < ET - 1; i++) raft.tick();
    expect(raft.status().role).toBe(Role.Follower);
    raft.tick();
    expect(raft.status().role).toBe(Role.Candidate);
  });

  it('FollowerElectionTimerIsNotResetByRejectingVote (Followers: only granting a vote counts)', () => {
    const { raft, storage } = node([1, 2], { term: 2 });
    for (let i = 0; i < ET - 1; i++) raft.tick();
    raft.step(vote('b', 2, 1, 1)); // same term, log behind ours: rejected
    expect(ofType(persist(raft, storage), MessageType.VoteResp)[0].reject).toBe(true);
    raft.tick();
    expect(raft.status()).toMatchObject({ role: Role.Candidate, term: 3 });
  });
});

describe('Figure 2, Rules for Servers: Candidates', () => {
  it('CandidateIncrementsTermVotesForItselfAndRequestsVotes (Candidates: on conversion, increment currentTerm, vote for self, reset election timer, send RequestVote to all other servers)', () => {
    const { raft, storage } = node([1, 1], { term: 1 });
    raft.campaign();
    const rd = persist(raft, storage);
    expect(rd.hardState).toEqual({ term: 2, vote: 'a', commit: 0 });
    expect(rd.mustSync).toBe(true);
    expect(rd.messages.map((m) => ({ type: m.type, to: m.to, term: m.term, index: m.index, logTerm: m.logTerm }))).toEqual([
      { type: MessageType.Vote, to: 'b', term: 2, index: 2, logTerm: 1 },
      { type: MessageType.Vote, to: 'c', term: 2, index: 2, logTerm: 1 },
    ]);
    // The election timer restarted at the conversion: a full timeout passes before the next election.
    for (let i = 0; i < ET - 1; i++) raft.tick();
    expect(raft.status()).toMatchObject({ role: Role.Candidate, term: 2 });
  });

  it('CandidateWinsWithVotesFromMajority (Candidates: if votes received from majority of servers, become leader)', () => {
    const five = ['a', 'b', 'c', 'd', 'e'];
    const { raft } = node([1], { term: 1 }, five);
    raft.campaign();
    raft.step(msg({ type: MessageType.VoteResp, from: 'b', to: 'a', term: 2 }));
    raft.step(msg({ type: MessageType.VoteResp, from: 'c', to: 'a', term: 2, reject: true }));
    expect(raft.status().role).toBe(Role.Candidate); // 2 of 5
    raft.step(msg({ type: MessageType.VoteResp, from: 'd', to: 'a', term: 2 }));
    expect(raft.status()).toMatchObject({ role: Role.Leader, term: 2, leader: 'a' }); // 3 of 5
  });

  it('CandidateLosesWithRejectionsFromMajority (Candidates: an election it cannot win ends)', () => {
    const five = ['a', 'b', 'c', 'd', 'e'];
    const { raft } = node([1], { term: 1 }, five);
    raft.campaign();
    for (const from of ['b', 'c']) raft.step(msg({ type: MessageType.VoteResp, from, to: 'a', term: 2, reject: true }));
    expect(raft.status().role).toBe(Role.Candidate);
    raft.step(msg({ type: MessageType.VoteResp, from: 'd', to: 'a', term: 2, reject: true }));
    expect(raft.status()).toMatchObject({ role: Role.Follower, term: 2 });
  });

  it('CandidateStepsDownOnAppendEntriesFromNewLeader (Candidates: if AppendEntries RPC received from new leader, convert to follower)', () => {
    const { raft, storage } = node([1], { term: 1 });
    raft.campaign();
    raft.step(app('c', 1, 1, 1)); // a stale leader of term 1 does not count
    expect(raft.status().role).toBe(Role.Candidate);
    raft.step(app('c', 2, 1, 1, [entry(2, 2)]));
    expect(raft.status()).toMatchObject({ role: Role.Follower, term: 2, leader: 'c', vote: 'a' });
    const resp = ofType(persist(raft, storage), MessageType.AppResp);
    expect(resp.map((m) => [m.to, m.reject, m.index])).toEqual([['c', false, 2]]);
  });

  it('CandidateStartsNewElectionOnTimeout (Candidates: if election timeout elapses, start new election)', () => {
    const { raft } = node([1], { term: 1 });
    raft.campaign();
    for (let i = 0; i < ET - 1; i++) raft.tick();
    expect(raft.status().term).toBe(2);
    raft.tick();
    expect(raft.status()).toMatchObject({ role: Role.Candidate, term: 3, vote: 'a' });
  });
});

describe('Figure 2, Rules for Servers: Leaders', () => {
  it('LeaderSendsAppendEntriesUponElection (Leaders: upon election, send initial AppendEntries to each server)', () => {
    const { won } = leader([1, 1], 2);
    const apps = ofType(won, MessageType.App);
    expect(apps.map((m) => m.to)).toEqual(['b', 'c']);
    // Bramble's initial AppendEntries carries the leader's no-op of its term (§5.4.2, §8).
    for (const m of apps) expect({ index: m.index, logTerm: m.logTerm, entries: ids(m.entries) }).toEqual({ index: 2, logTerm: 1, entries: ['3@2'] });
  });

  it('LeaderSendsHeartbeatsDuringIdlePeriods (Leaders: repeat during idle periods to prevent election timeouts)', () => {
    const { raft, storage } = leader([1], 2);
    for (let i = 0; i < 3; i++) {
      raft.tick();
      expect(ofType(persist(raft, storage), MessageType.Heartbeat).map((m) => m.to)).toEqual(['b', 'c']);
    }
    const c = new Cluster(['a', 'b', 'c', 'd', 'e']);
    const l = c.electLeader();
    const term = l.raft.status().term;
    c.tick(undefined, 50 * ET);
    for (const n of c.nodes.values()) expect(n.raft.status()).toMatchObject({ term, leader: l.id });
  });

  it('LeaderReplicatesCommandAndItIsAppliedOnlyOnceCommitted (Leaders: if command received from client, append entry to local log, respond after entry applied to state machine)', () => {
    const { raft, storage } = leader([], 1);
    raft.step(appResp('b', 1, 1)); // no-op committed
    raft.step(appResp('c', 1, 1));
    persist(raft, storage);
    raft.propose(bytes('x'));
    const rd = persist(raft, storage);
    expect(ids(rd.entries)).toEqual(['2@1']);
    expect(rd.committedEntries).toEqual([]);
    expect(ofType(rd, MessageType.App).map((m) => ids(m.entries))).toEqual([['2@1'], ['2@1']]);
    raft.step(appResp('c', 1, 2));
    const applied = persist(raft, storage).committedEntries;
    expect(applied.map((e) => new TextDecoder().decode(e.data))).toEqual(['x']);
  });

  it('FollowerForwardsClientCommandToLeader (Leaders: if command received from client...; §8: clients may contact any server)', () => {
    const c = new Cluster(ABC);
    const l = c.electLeader();
    const f = ABC.find((id) => id !== l.id)!;
    c.get(f).raft.propose(bytes('via-follower'));
    c.stabilize();
    expect(c.count((m) => m.type === MessageType.Prop && m.from === f && m.to === l.id)).toBe(1);
    for (const id of ABC) expect(c.appliedData(id)).toEqual(['via-follower']);
  });

  it('LeaderSendsEntriesStartingAtNextIndex (Leaders: if last log index >= nextIndex for a follower, send AppendEntries with entries starting at nextIndex)', () => {
    const { raft, storage, won } = leader([1, 1, 1], 2);
    // nextIndex starts at the leader's last index + 1 (§5.3), i.e. the no-op.
    const first = ofType(won, MessageType.App).find((m) => m.to === 'b')!;
    expect({ prev: first.index, prevTerm: first.logTerm, entries: ids(first.entries) }).toEqual({ prev: 3, prevTerm: 1, entries: ['4@2'] });
    raft.step(appResp('b', 2, 4));
    persist(raft, storage);
    raft.propose(bytes('x'));
    raft.propose(bytes('y'));
    const next = ofType(persist(raft, storage), MessageType.App).find((m) => m.to === 'b')!;
    expect({ prev: next.index, entries: ids(next.entries) }).toEqual({ prev: 4, entries: ['5@2', '6@2'] });
  });

  it('LeaderUpdatesNextIndexAndMatchIndexOnSuccess (Leaders: if successful, update nextIndex and matchIndex for follower)', () => {
    const { raft } = leader([1, 1, 1], 2);
    expect(raft.status().progress.b).toMatchObject({ match: 0, next: 4 });
    raft.step(appResp('b', 2, 4));
    expect(raft.status().progress.b).toMatchObject({ match: 4, next: 5, state: 'replicate' });
    raft.step(appResp('b', 2, 2)); // a stale, smaller acknowledgement changes nothing
    expect(raft.status().progress.b).toMatchObject({ match: 4, next: 5 });
  });

  it('LeaderDecrementsNextIndexAndRetries (Leaders: if AppendEntries fails because of log inconsistency, decrement nextIndex and retry)', () => {
    const { raft, storage } = leader([1, 1, 1, 1, 1], 2);
    // b holds only entry 1: it rejects prev=5 and hints that its log ends at 1.
    raft.step(msg({ type: MessageType.AppResp, from: 'b', to: 'a', term: 2, index: 5, reject: true, rejectHint: 1, logTerm: 1 }));
    expect(raft.status().progress.b.next).toBeLessThanOrEqual(2);
    const retry = ofType(persist(raft, storage), MessageType.App).find((m) => m.to === 'b')!;
    expect({ prev: retry.index, prevTerm: retry.logTerm, entries: ids(retry.entries) }).toEqual({
      prev: 1,
      prevTerm: 1,
      entries: ['2@1', '3@1', '4@1', '5@1', '6@2'],
    });
    raft.step(appResp('b', 2, 6));
    expect(raft.status().progress.b).toMatchObject({ match: 6, next: 7 });
  });

  it('LeaderCommitsOnlyWhenMajorityMatchesAnEntryOfItsTerm (Leaders: if there exists N > commitIndex, a majority of matchIndex[i] >= N, and log[N].term == currentTerm, set commitIndex = N)', () => {
    const five = ['a', 'b', 'c', 'd', 'e'];
    const { raft, storage } = leader([1, 1], 2, five); // log 1@1 2@1 3@2
    raft.step(appResp('b', 2, 3));
    expect(raft.status().commit).toBe(0); // 2 of 5
    raft.step(appResp('c', 2, 2));
    // A majority (a, b, c) matches index 2, but 2 is from term 1: not committed by counting.
    expect(raft.status().commit).toBe(0);
    raft.step(appResp('c', 2, 3));
    expect(raft.status().commit).toBe(3);
    expect(ids(persist(raft, storage).committedEntries)).toEqual(['1@1', '2@1', '3@2']);
  });

  it('LeaderRetriesAppendEntriesIndefinitely (§5.3: if followers run slowly or packets are lost, the leader retries) even when every message of a full in-flight window was lost', () => {
    const c = new Cluster(ABC, { raft: { maxInflightMsgs: 2 } });
    const l = c.electLeader();
    const lagging = l.id === 'c' ? 'b' : 'c';
    l.raft.propose(bytes('warm-up'));
    c.stabilize();
    expect(l.raft.status().progress[lagging].state).toBe('replicate');
    c.drop = (m) => m.type === MessageType.App && m.to === lagging;
    for (let i = 0; i < 5; i++) {
      l.raft.propose(bytes(`v${i}`));
      c.stabilize();
    }
    expect(l.raft.status().progress[lagging].inflight).toBe(2); // window full, both messages lost
    c.drop = undefined;
    c.tick(undefined, 3);
    expect(c.get(lagging).raft.lastIndex()).toBe(l.raft.lastIndex());
    expect(c.appliedData(lagging)).toEqual(c.appliedData(l.id));
  });
});

describe('Figure 2, RequestVote RPC: receiver implementation', () => {
  it('RejectsVoteFromStaleTerm (RequestVote 1: reply false if term < currentTerm)', () => {
    const { raft, storage } = node([1], { term: 3 });
    raft.step(vote('b', 2, 5, 2));
    const rd = persist(raft, storage);
    // The core drops a stale request (as etcd does); what matters is that it is never granted.
    expect(ofType(rd, MessageType.VoteResp).filter((m) => !m.reject)).toEqual([]);
    expect(raft.status()).toMatchObject({ term: 3, vote: NONE });
  });

  // Our log: 1@1 2@1 3@2.
  const upToDate: [string, number, number, boolean][] = [
    ['same last term, same length', 3, 2, true],
    ['same last term, longer', 4, 2, true],
    ['same last term, shorter', 2, 2, false],
    ['higher last term, shorter', 1, 3, true],
    ['lower last term, longer', 9, 1, false],
  ];
  for (const [name, index, logTerm, granted] of upToDate) {
    it(`GrantsVoteOnlyToUpToDateCandidate: ${name} → ${granted ? 'granted' : 'rejected'} (RequestVote 2: if votedFor is null or candidateId, and candidate's log is at least as up-to-date as receiver's log (§5.4.1), grant vote)`, () => {
      const { raft, storage } = node([1, 1, 2], { term: 2 });
      raft.step(vote('b', 3, index, logTerm));
      const resp = ofType(persist(raft, storage), MessageType.VoteResp);
      expect(resp.map((m) => ({ to: m.to, reject: m.reject }))).toEqual([{ to: 'b', reject: !granted }]);
      expect(raft.status().vote).toBe(granted ? 'b' : NONE);
    });
  }

  it('GrantsVoteAgainToTheSameCandidate (RequestVote 2: votedFor is candidateId, e.g. the first reply was lost)', () => {
    const { raft, storage } = node([1], { term: 1 });
    raft.step(vote('b', 2, 1, 1));
    persist(raft, storage);
    raft.step(vote('b', 2, 1, 1));
    expect(ofType(persist(raft, storage), MessageType.VoteResp).map((m) => m.reject)).toEqual([false]);
  });

  it('VotesAtMostOncePerTerm (§5.2: each server will vote for at most one candidate in a given term), also across a restart', () => {
    const { raft, storage } = node([1], { term: 1 });
    raft.step(vote('b', 2, 1, 1));
    raft.step(vote('c', 2, 1, 1));
    const resp = ofType(persist(raft, storage), MessageType.VoteResp);
    expect(resp.map((m) => [m.to, m.reject])).toEqual([
      ['b', false],
      ['c', true],
    ]);
    // The vote is durable: the same node restarted from its storage still refuses c.
    const restarted = newRaft('a', storage, PLAIN);
    restarted.step(vote('c', 2, 1, 1));
    expect(ofType(persist(restarted, storage), MessageType.VoteResp).map((m) => [m.to, m.reject])).toEqual([['c', true]]);
    expect(restarted.status()).toMatchObject({ term: 2, vote: 'b' });
  });
});

describe('Figure 2, AppendEntries RPC: receiver implementation', () => {
  it('RejectsAppendEntriesFromStaleTerm (AppendEntries 1: reply false if term < currentTerm)', () => {
    for (const tuning of [PLAIN, { preVote: true, checkQuorum: true }]) {
      const { raft, storage } = node([1, 1], { term: 3 }, ABC, tuning);
      raft.step(app('b', 2, 2, 1, [entry(3, 2)], 3));
      const rd = persist(raft, storage);
      expect(raft.lastIndex()).toBe(2);
      expect(raft.status()).toMatchObject({ term: 3, commit: 0 });
      // Either no answer, or one carrying our newer term (which makes the stale leader step down); never an acceptance.
      for (const m of ofType(rd, MessageType.AppResp)) expect(m.term).toBe(3);
    }
  });

  it('StaleLeaderStepsDownWhenToldTheNewerTerm (AppendEntries 1 + All Servers rule)', () => {
    const c = new Cluster(ABC);
    const old = c.electLeader();
    const term = old.raft.status().term;
    c.isolate(old.id);
    c.tick(c.allIds().filter((id) => id !== old.id), 4 * ET);
    const fresh = c.leader()!;
    expect(fresh.id).not.toBe(old.id);
    expect(old.raft.status()).toMatchObject({ role: Role.Leader, term }); // it was not ticked: it still believes
    c.heal();
    c.tick(undefined, 2);
    expect(old.raft.status()).toMatchObject({ role: Role.Follower, leader: fresh.id });
    expect(old.raft.status().term).toBeGreaterThan(term);
  });

  it('RejectsWhenLogHasNoEntryAtPrevLogIndexWithPrevLogTerm (AppendEntries 2)', () => {
    const { raft, storage } = node([1, 1, 2], { term: 2 });
    raft.step(app('b', 3, 3, 3, [entry(4, 3)], 4)); // entry 3 is from term 2, not 3
    raft.step(app('b', 3, 5, 3, [entry(6, 3)], 6)); // we have no entry 5 at all
    const rd = persist(raft, storage);
    expect(ofType(rd, MessageType.AppResp).map((m) => ({ reject: m.reject, index: m.index }))).toEqual([
      { reject: true, index: 3 },
      { reject: true, index: 5 },
    ]);
    expect(ids(raft.entriesFrom(1, 4))).toEqual(['1@1', '2@1', '3@2']);
    expect(raft.lastIndex()).toBe(3);
    expect(raft.status().commit).toBe(0);
  });

  it('DeletesConflictingEntryAndAllThatFollow (AppendEntries 3: if an existing entry conflicts with a new one (same index, different terms), delete it and all that follow)', () => {
    const { raft, storage } = node([1, 1, 2, 2, 2], { term: 2 });
    raft.step(app('b', 3, 2, 1, [entry(3, 3)]));
    const rd = persist(raft, storage);
    expect(ids(rd.entries)).toEqual(['3@3']);
    expect(ids(raft.entriesFrom(1, raft.lastIndex() + 1))).toEqual(['1@1', '2@1', '3@3']);
    expect(storage.lastIndex()).toBe(3);
    expect(ofType(rd, MessageType.AppResp)[0]).toMatchObject({ reject: false, index: 3 });
  });

  it('AppendsNewEntriesNotAlreadyInLog (AppendEntries 4)', () => {
    const { raft, storage } = node([1, 1], { term: 1 });
    raft.step(app('b', 1, 1, 1, [entry(2, 1), entry(3, 1), entry(4, 1)]));
    const rd = persist(raft, storage);
    expect(ids(rd.entries)).toEqual(['3@1', '4@1']); // 2@1 was already there: not rewritten
    expect(ids(raft.entriesFrom(1, 5))).toEqual(['1@1', '2@1', '3@1', '4@1']);
  });

  it('SetsCommitIndexToMinOfLeaderCommitAndLastNewEntry (AppendEntries 5: if leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new entry))', () => {
    // Entry 3@1 may not be the leader's entry 3: leaderCommit 3 must not commit it.
    const { raft, storage } = node([1, 1, 1], { term: 1 });
    raft.step(app('b', 2, 1, 1, [entry(2, 1)], 3));
    expect(raft.status().commit).toBe(2);
    raft.step(app('b', 2, 2, 1, [], 3)); // an empty one: the last new entry is its prev
    expect(raft.status().commit).toBe(2);
    expect(ids(persist(raft, storage).committedEntries)).toEqual(['1@1', '2@1']);

    const other = node([], { term: 1 });
    other.raft.step(app('b', 1, 0, 0, [entry(1, 1), entry(2, 1), entry(3, 1)], 1));
    expect(other.raft.status().commit).toBe(1); // leaderCommit is the smaller
  });

  it('StaleShorterAppendEntriesDoesNotTruncate (AppendEntries 3: only a conflict deletes; a delayed duplicate must not)', () => {
    const { raft, storage } = node([1, 2, 2, 2], { term: 2 });
    raft.step(app('b', 2, 1, 1, [entry(2, 2)], 1));
    const rd = persist(raft, storage);
    expect(rd.entries).toEqual([]);
    expect(raft.lastIndex()).toBe(4);
    expect(storage.lastIndex()).toBe(4);
    expect(ofType(rd, MessageType.AppResp)[0]).toMatchObject({ reject: false, index: 2 });
  });

  it('AnswersAppendEntriesBelowCommitWithCommitIndex (AppendEntries: entries at or below commitIndex are already known to match)', () => {
    const { raft, storage } = node([1, 1, 1], { term: 1, commit: 3 });
    raft.step(app('b', 1, 1, 1, [entry(2, 1)], 3));
    const resp = ofType(persist(raft, storage), MessageType.AppResp)[0];
    expect(resp).toMatchObject({ reject: false, index: 3 });
    expect(raft.lastIndex()).toBe(3);
  });
});

describe('Figure 2, State: persistent state on all servers (updated on stable storage before responding to RPCs)', () => {
  it('PersistsVoteInTheSameReadyAsTheVoteResponse', () => {
    const { raft } = node([1], { term: 1 });
    raft.step(vote('b', 2, 1, 1));
    const rd = raft.ready();
    expect(rd.hardState).toEqual({ term: 2, vote: 'b', commit: 0 });
    expect(rd.mustSync).toBe(true);
    expect(ofType(rd, MessageType.VoteResp).map((m) => [m.to, m.reject])).toEqual([['b', false]]);
  });

  it('PersistsTermAndSelfVoteInTheSameReadyAsRequestVote', () => {
    const { raft } = node([1], { term: 4 });
    raft.campaign();
    const rd = raft.ready();
    expect(rd.hardState).toMatchObject({ term: 5, vote: 'a' });
    expect(rd.mustSync).toBe(true);
    expect(ofType(rd, MessageType.Vote)).toHaveLength(2);
  });

  it('PersistsEntriesInTheSameReadyAsTheAcknowledgement', () => {
    const { raft } = node([1], { term: 1 });
    raft.step(app('b', 2, 1, 1, [entry(2, 2), entry(3, 2)], 0));
    const rd = raft.ready();
    expect(ids(rd.entries)).toEqual(['2@2', '3@2']);
    expect(rd.hardState).toMatchObject({ term: 2 });
    expect(rd.mustSync).toBe(true);
    expect(ofType(rd, MessageType.AppResp)[0]).toMatchObject({ index: 3, reject: false });
  });

  it('ReadyContract: ready() again before advance() is refused, so nothing is handed out twice', () => {
    const { raft } = node([1], { term: 1 });
    raft.campaign();
    const rd = raft.ready();
    expect(() => raft.ready()).toThrow(/before advance/);
    raft.advance(rd);
    expect(() => raft.advance(rd)).toThrow(/without a ready/);
  });

  it('NeverSendsWhatIsNotDurable: a cluster run with elections, partitions and restarts keeps the contract', () => {
    // The harness checks every message against the storage persisted just before it is sent.
    const c = new Cluster(['a', 'b', 'c', 'd', 'e']);
    for (let round = 0; round < 6; round++) {
      const l = c.electLeader();
      for (let i = 0; i < 5; i++) l.raft.propose(bytes(`r${round}-${i}`));
      c.stabilize();
      const victim = l.id;
      c.isolate(victim);
      c.tick(undefined, 3 * ET);
      c.crash(victim);
      c.heal();
      c.restart(victim);
      c.tick(undefined, 3 * ET);
    }
    const l = c.electLeader();
    l.raft.propose(bytes('last'));
    c.stabilize();
    c.tick(undefined, 2);
    // Every incarnation re-applies from its storage: all end with the same history.
    const reference = c.appliedData(l.id);
    expect(reference).toHaveLength(31);
    for (const id of c.allIds()) expect(c.appliedData(id)).toEqual(reference);
  });

  it('NeverSendsWhatIsNotDurable has teeth: a node that forgets to persist its vote is caught', () => {
    class ForgetfulVoter extends RaftNode {
      protected override hardStateForReady(): HardState {
        return { ...super.hardStateForReady(), vote: NONE };
      }
    }
    const c = new Cluster(ABC, { factory: (cfg: RaftConfig) => (cfg.id === 'b' ? new ForgetfulVoter(cfg) : new RaftNode(cfg)) });
    c.get('a').raft.campaign();
    expect(() => c.stabilize()).toThrow(/b granted its vote to a but persisted vote ''/);
  });
});
