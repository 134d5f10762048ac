import { applyConfChangeTo, confChangeProblem, encodeConfChange } from './confchange.js';
import { CompactedError, ConfChangeRefusedError, ProposalDroppedError, RaftInvariantError } from './errors.js';
import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import { committedIndex, majority, voteResult } from './quorum.js';
import { ReadOnly } from './read-index.js';
import { entrySizeBytes, cloneConf, type Storage } from './storage.js';
import {
  EntryType,
  MessageType,
  NONE,
  Role,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Logger,
  type Message,
  type NodeId,
  type Random,
  type ReadState,
  type Ready,
  type Snapshot,
  type SoftState,
  type Status,
} from './types.js';

export interface BasicStatus {
  term: number;
  leader: NodeId;
  role: Role;
  commit: number;
  applied: number;
}

export interface RaftConfig {
  id: NodeId;
  storage: Storage;
  /** Injected randomness for election jitter. */
  random: Random;
  /** Followers start an election after [electionTicks, 2*electionTicks) ticks without a leader. */
  electionTicks?: number;
  heartbeatTicks?: number;
  /** The last index the host applied before this (re)start; committed entries after it are handed out again. */
  applied?: number;
  maxSizePerMsgBytes?: number;
  maxInflightMsgs?: number;
  maxInflightBytes?: number;
  /** Upper bound of committed entries handed out per Ready. */
  maxCommittedBytesPerReady?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  logger?: Logger;
}

const EMPTY = new Uint8Array(0);
/** Context of a campaign started by TimeoutNow: voters grant it even inside their leader lease. */
export const TRANSFER_CONTEXT = new TextEncoder().encode('transfer');

const silentLogger: Logger = { debug() {}, info() {}, warn() {} };

function isTransferContext(ctx: Uint8Array | undefined): boolean {
  if (!ctx || ctx.length !== TRANSFER_CONTEXT.length) return false;
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== TRANSFER_CONTEXT[i]) return false;
  return true;
}

/**
 * A Raft node as a deterministic state machine (in the style of etcd's raft):
 * ticks, messages and proposals go in; `ready()` says what to persist, send and apply.
 * No I/O, no timers, no promises, no randomness of its own.
 *
 * Members are `protected` so that tests can subclass deliberately broken variants.
 */
export class RaftNode {
  readonly id: NodeId;
  protected term = 0;
  protected vote: NodeId = NONE;
  protected lead: NodeId = NONE;
  protected role: Role = Role.Follower;
  protected readonly raftLog: RaftLog;

  protected voters = new Set<NodeId>();
  protected learners = new Set<NodeId>();
  protected prs = new Map<NodeId, Progress>();
  protected votes = new Map<NodeId, boolean>();

  protected readonly electionTicks: number;
  protected readonly heartbeatTicks: number;
  protected electionElapsed = 0;
  protected heartbeatElapsed = 0;
  /** Ticks since this node started (paces probes; never persisted). */
  protected ticks = 0;
  protected randomizedElectionTimeout = 0;

  protected readonly preVote: boolean;
  protected readonly checkQuorum: boolean;
  protected readonly maxSizePerMsgBytes: number;
  protected readonly maxInflightMsgs: number;
  protected readonly maxInflightBytes: number;
  protected readonly random: Random;
  protected readonly logger: Logger;

  protected leadTransferee: NodeId = NONE;
  /** Index of the latest conf change the leader appended; another waits until it is applied. */
  protected pendingConfIndex = 0;
  protected readOnly = new ReadOnly();
  /** ReadIndex requests that arrived before this leader committed an entry in its term. */
  protected pendingReadIndex: Message[] = [];
  protected readStates: ReadState[] = [];
  protected msgs: Message[] = [];
  /** New entries or a new commit index wait to be sent to followers at the next ready(). */
  protected broadcastPending = false;
  /** ReadIndex requests were registered since the last heartbeat round. */
  protected readHeartbeatPending = false;
  protected commitChangedSinceBroadcast = false;

  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** Highest index handed out in committedEntries but not yet acknowledged by advance(). */
  private applying: number;
  private outstandingReady = false;

  constructor(cfg: RaftConfig) {
    this.id = cfg.id;
    if (!cfg.id) throw new RaftInvariantError('a node needs a non-empty id');
    this.electionTicks = cfg.electionTicks ?? 10;
    this.heartbeatTicks = cfg.heartbeatTicks ?? 1;
    if (this.heartbeatTicks >= this.electionTicks) {
      throw new RaftInvariantError(`heartbeatTicks (${this.heartbeatTicks}) must be below electionTicks (${this.electionTicks})`);
    }
    this.preVote = cfg.preVote ?? true;
    this.checkQuorum = cfg.checkQuorum ?? true;
    this.maxSizePerMsgBytes = cfg.maxSizePerMsgBytes ?? 1024 * 1024;
    this.maxInflightMsgs = cfg.maxInflightMsgs ?? 256;
    this.maxInflightBytes = cfg.maxInflightBytes ?? 32 * 1024 * 1024;
    this.random = cfg.random;
    this.logger = cfg.logger ?? silentLogger;
    this.raftLog = this.createLog(cfg.storage, cfg.maxCommittedBytesPerReady ?? 4 * 1024 * 1024);

    const { hardState, confState } = cfg.storage.initialState();
    this.setConf(confState);
    if (hardState.term > 0 || hardState.vote !== NONE || hardState.commit > 0) {
      if (hardState.commit < this.raftLog.committed || hardState.commit > this.raftLog.lastIndex()) {
        throw new RaftInvariantError(
          `persisted commit ${hardState.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
        );
      }
      this.raftLog.committed = hardState.commit;
      this.term = hardState.term;
      this.vote = hardState.vote;
    }
    if (cfg.applied !== undefined && cfg.applied > 0) this.raftLog.appliedTo(cfg.applied);
    this.applying = this.raftLog.applied;
    this.becomeFollower(this.term, NONE);
    this.prevSoftState = this.softState();
    this.prevHardState = this.hardStateForReady();
  }

  /** Overridable only so tests can build a deliberately broken log. */
  protected createLog(storage: Storage, maxCommittedBytesPerReady: number): RaftLog {
    return new RaftLog(storage, maxCommittedBytesPerReady);
  }

  // ---------------------------------------------------------------- inputs

  /** One unit of logical time. The host calls it on a fixed interval. */
  tick(): void {
    this.ticks++;
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  /** Propose a client command. Throws ProposalDroppedError when it cannot be accepted here. */
  propose(data: Uint8Array): void {
    this.proposeEntries([{ term: 0, index: 0, type: EntryType.Normal, data }]);
  }

  /** Propose several commands at once (one message to the leader, one append). */
  proposeBatch(datas: Uint8Array[]): void {
    this.proposeEntries(datas.map((data) => ({ term: 0, index: 0, type: EntryType.Normal, data })));
  }

  private proposeEntries(entries: Entry[]): void {
    if (this.role === Role.Leader) {
      this.leaderAppendProposals(entries, this.id);
      return;
    }
    if (this.lead === NONE || this.role !== Role.Follower) {
      throw new ProposalDroppedError(`${this.id} knows no leader (term ${this.term}); retry later or elsewhere`);
    }
    this.send({ ...this.blank(MessageType.Prop, this.lead), term: 0, entries });
  }

  /** Propose a membership change. Only the leader accepts one. */
  proposeConfChange(cc: ConfChange): void {
    if (this.role !== Role.Leader) {
      throw new ProposalDroppedError(`${this.id} is not the leader (leader: ${this.lead || 'unknown'}); send conf changes to the leader`);
    }
    this.checkConfChangeAllowed(cc);
    this.leaderAppendProposals([{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }], this.id);
  }

  /**
   * Ask for a linearizable read point. The answer appears later in `ready().readStates`
   * with the same context; once `applied >= index`, the read may be served.
   */
  readIndex(context: Uint8Array): void {
    if (this.role === Role.Leader) {
      this.handleReadIndexOnLeader({ ...this.blank(MessageType.ReadIndex, this.id), from: this.id, term: 0, context });
      return;
    }
    if (this.lead === NONE || this.role !== Role.Follower) {
      throw new ProposalDroppedError(`${this.id} knows no leader (term ${this.term}); cannot serve a linearizable read`);
    }
    this.send({ ...this.blank(MessageType.ReadIndex, this.lead), term: 0, context });
  }

  /** Hand leadership to `transferee` (on the leader; a follower forwards the request). */
  transferLeader(transferee: NodeId): void {
    if (this.role === Role.Leader) {
      this.handleTransferLeader(transferee);
      return;
    }
    if (this.lead === NONE) throw new ProposalDroppedError(`${this.id} knows no leader to transfer from`);
    this.send({ ...this.blank(MessageType.TransferLeader, this.lead), term: 0, transferee });
  }

  /** Start an election now (tests and operators). Subject to PreVote like a timeout. */
  campaign(): void {
    this.hup(false);
  }

  /**
   * A follower forgets its leader (e.g. the host saw the leader's connection reset), dropping
   * its leader lease so it grants pre-votes at once. It does not campaign by itself and returns
   * to normal as soon as it hears from a leader. Affects liveness only, never safety.
   */
  forgetLeader(): void {
    if (this.role !== Role.Follower || this.lead === NONE) return;
    this.lead = NONE;
    this.electionElapsed = Math.max(this.electionElapsed, this.electionTicks);
  }

  step(m: Message): void {
    if (m.from === this.id) return;
    if (m.term === 0) {
      // Local requests forwarded by a follower carry no term.
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = isTransferContext(m.context);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTicks;
        if (!force && inLease) {
          // We heard from a live leader recently: do not let a disruptive node depose it.
          this.logger.debug({ node: this.id, term: this.term, from: m.from, type: m.type }, 'ignored vote request inside leader lease');
          return;
        }
      }
      if (m.type === MessageType.PreVote) {
        // A pre-vote never changes our term.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // Granted pre-votes carry the future term; counted in stepCandidate.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // A stale leader (e.g. rejoining after a partition) learns our term and steps down.
        this.send(this.blank(MessageType.AppResp, m.from));
      } else if (m.type === MessageType.PreVote) {
        this.send({ ...this.blank(MessageType.PreVoteResp, m.from), reject: true });
      }
      return;
    }

    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case Role.Leader:
        this.stepLeader(m);
        break;
      case Role.Candidate:
      case Role.PreCandidate:
        this.stepCandidate(m);
        break;
      case Role.Follower:
        this.stepFollower(m);
        break;
    }
  }

  /** The host applied a committed ConfChange entry: switch configuration. */
  applyConfChange(cc: ConfChange): ConfState {
    const conf = applyConfChangeTo(this.confState(), cc);
    this.setConf(conf);
    if (this.role === Role.Leader) {
      if (!this.voters.has(this.id)) {
        // Removed (or never a voter): step down and let the others elect a leader.
        this.logger.info({ node: this.id, term: this.term }, 'leader removed from the configuration; stepping down');
        this.becomeFollower(this.term, NONE);
      } else {
        if (this.leadTransferee !== NONE && !this.voters.has(this.leadTransferee)) this.abortLeaderTransfer();
        // A smaller quorum may commit more right away.
        if (this.maybeCommit()) this.markCommitChanged();
        this.broadcastPending = true;
      }
    }
    return conf;
  }

  reportUnreachable(id: NodeId): void {
    const pr = this.prs.get(id);
    if (this.role === Role.Leader && pr && pr.state === 'replicate') pr.becomeProbe();
  }

  /** The host finished (ok) or failed to send the snapshot it was asked to send to `id`. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    const pr = this.prs.get(id);
    if (this.role !== Role.Leader || !pr || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's answer (or the next heartbeat response) before probing again.
    pr.probeSent = true;
  }

  // ---------------------------------------------------------------- ready / advance

  hasReady(): boolean {
    if (this.broadcastPending || this.readHeartbeatPending || this.msgs.length > 0 || this.readStates.length > 0) return true;
    if (this.raftLog.unstable.entries.length > 0 || this.raftLog.unstable.snapshot) return true;
    if (this.raftLog.hasNextCommittedEntries(this.applying)) return true;
    if (!sameSoftState(this.softState(), this.prevSoftState)) return true;
    return !sameHardState(this.hardStateForReady(), this.prevHardState);
  }

  ready(): Ready {
    if (this.outstandingReady) throw new RaftInvariantError('ready() called again before advance()');
    if (this.broadcastPending) this.flushAppends();
    if (this.readHeartbeatPending) this.flushReadHeartbeat();
    const soft = this.softState();
    const hard = this.hardStateForReady();
    const entries = this.raftLog.unstable.entries.slice();
    const snapshot = this.raftLog.unstable.snapshot;
    const committedEntries = snapshot ? [] : this.raftLog.nextCommittedEntries(this.applying);
    const rd: Ready = {
      entries,
      committedEntries,
      messages: this.msgs,
      readStates: this.readStates,
      mustSync: entries.length > 0 || hard.term !== this.prevHardState.term || hard.vote !== this.prevHardState.vote || snapshot !== undefined,
    };
    if (snapshot) rd.snapshot = snapshot;
    if (!sameSoftState(soft, this.prevSoftState)) rd.softState = soft;
    if (!sameHardState(hard, this.prevHardState)) rd.hardState = hard;
    this.msgs = [];
    this.readStates = [];
    this.prevSoftState = soft;
    this.prevHardState = hard;
    if (committedEntries.length > 0) this.applying = committedEntries[committedEntries.length - 1].index;
    this.outstandingReady = true;
    return rd;
  }

  /** The host finished everything the Ready asked for. */
  advance(rd: Ready): void {
    if (!this.outstandingReady) throw new RaftInvariantError('advance() without a ready()');
    this.outstandingReady = false;
    if (rd.snapshot) {
      this.raftLog.unstable.stableSnapTo(rd.snapshot.meta.index);
      this.raftLog.applied = Math.max(this.raftLog.applied, rd.snapshot.meta.index);
      this.applying = Math.max(this.applying, rd.snapshot.meta.index);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      this.raftLog.unstable.stableTo(last.index, last.term);
      // Our own entries are durable now: count them toward the commit quorum.
      if (this.role === Role.Leader && last.term === this.term && this.prs.get(this.id)?.maybeUpdate(last.index)) {
        if (this.maybeCommit()) this.onLeaderCommit();
      }
    }
    if (rd.committedEntries.length > 0) {
      this.raftLog.appliedTo(rd.committedEntries[rd.committedEntries.length - 1].index);
    }
  }

  // ---------------------------------------------------------------- views

  status(): Status {
    const progress: Status['progress'] = {};
    if (this.role === Role.Leader) for (const [id, pr] of this.prs) progress[id] = pr.status();
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.raftLog.committed,
      applied: this.raftLog.applied,
      leader: this.lead,
      role: this.role,
      lastIndex: this.raftLog.lastIndex(),
      confState: this.confState(),
      leadTransferee: this.leadTransferee,
      progress,
    };
  }

  /** The cheap part of status(), for hot paths (no progress map, no configuration copy). */
  basicStatus(): BasicStatus {
    return { term: this.term, leader: this.lead, role: this.role, commit: this.raftLog.committed, applied: this.raftLog.applied };
  }

  lastIndex(): number {
    return this.raftLog.lastIndex();
  }

  termAt(index: number): number | undefined {
    return this.raftLog.term(index);
  }

  /** [lo, hi) of this node's log (persisted and not yet persisted). */
  entriesFrom(lo: number, hi: number): Entry[] {
    return this.raftLog.slice(lo, hi);
  }

  firstIndex(): number {
    return this.raftLog.firstIndex();
  }

  confState(): ConfState {
    return { voters: [...this.voters].sort(), learners: [...this.learners].sort() };
  }

  // ---------------------------------------------------------------- state transitions

  protected softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  /** What the host persists. Overridable only so tests can build a deliberately broken variant. */
  protected hardStateForReady(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  protected reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.votes.clear();
    const last = this.raftLog.lastIndex();
    for (const id of this.prs.keys()) this.prs.set(id, this.newProgress(id, last + 1));
    const self = this.prs.get(this.id);
    if (self) self.match = last;
    this.pendingConfIndex = 0;
    this.readOnly.reset();
    this.pendingReadIndex = [];
    this.broadcastPending = false;
    this.readHeartbeatPending = false;
    this.commitChangedSinceBroadcast = false;
  }

  protected becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = Role.Follower;
  }

  protected becomePreCandidate(): void {
    if (this.role === Role.Leader) throw new RaftInvariantError('leader cannot become pre-candidate');
    // Changes neither term nor vote: a failed pre-election leaves no trace.
    this.votes.clear();
    this.lead = NONE;
    this.role = Role.PreCandidate;
  }

  protected becomeCandidate(): void {
    if (this.role === Role.Leader) throw new RaftInvariantError('leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  protected becomeLeader(): void {
    if (this.role === Role.Follower) throw new RaftInvariantError('follower cannot become leader without an election');
    this.reset(this.term);
    this.lead = this.id;
    this.role = Role.Leader;
    this.prs.get(this.id)?.becomeReplicate();
    // Any uncommitted entry may be a conf change: allow no new one until everything is applied.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // The no-op of this term: committing it commits everything before it (§5.4.2) and unlocks ReadIndex.
    this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY }]);
    this.logger.info({ node: this.id, term: this.term }, 'became leader');
  }

  protected resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTicks + Math.floor(this.random() * this.electionTicks);
  }

  protected tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  protected tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.logger.info({ node: this.id, term: this.term }, 'lost contact with a quorum; stepping down');
        this.becomeFollower(this.term, NONE);
        return;
      }
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  /** CheckQuorum: did a majority of voters talk to us during the last election timeout? */
  protected quorumActive(): boolean {
    let active = 0;
    for (const id of this.voters) {
      const pr = this.prs.get(id);
      if (id === this.id || pr?.recentActive) active++;
    }
    for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
    return active >= majority(this.voters.size);
  }

  protected promotable(): boolean {
    return this.voters.has(this.id) && !this.raftLog.hasPendingSnapshot();
  }

  protected hup(transfer: boolean): void {
    if (this.role === Role.Leader) return;
    if (!this.promotable()) return;
    if (this.hasUnappliedConfChange()) {
      this.logger.warn({ node: this.id, term: this.term }, 'not campaigning: a committed conf change is not yet applied');
      return;
    }
    if (this.preVote && !transfer) this.runElection(true, false);
    else this.runElection(false, transfer);
  }

  private hasUnappliedConfChange(): boolean {
    const lo = this.raftLog.applied + 1;
    const hi = this.raftLog.committed + 1;
    if (lo >= hi) return false;
    try {
      return this.raftLog.slice(lo, hi).some((e) => e.type === EntryType.ConfChange);
    } catch (err) {
      if (err instanceof CompactedError) return false;
      throw err;
    }
  }

  protected runElection(pre: boolean, transfer: boolean): void {
    let voteTerm: number;
    if (pre) {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      // A single-voter cluster.
      if (pre) this.runElection(false, transfer);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    for (const id of this.voters) {
      if (id === this.id) continue;
      this.send({
        ...this.blank(pre ? MessageType.PreVote : MessageType.Vote, id),
        term: voteTerm,
        index: lastIndex,
        logTerm: lastTerm,
        context: transfer ? TRANSFER_CONTEXT : undefined,
      });
    }
  }

  protected poll(id: NodeId, granted: boolean) {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return voteResult(this.voters, this.votes);
  }

  // ---------------------------------------------------------------- votes

  protected handleVoteRequest(m: Message): void {
    const pre = m.type === MessageType.PreVote;
    // We may vote for whom we voted before, or for anyone when we have neither voted nor know a leader;
    // a pre-vote for a future term never binds us.
    const canVote = this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (pre && m.term > this.term);
    if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
      this.send({ ...this.blank(pre ? MessageType.PreVoteResp : MessageType.VoteResp, m.from), term: m.term });
      if (!pre) this.grantVote(m.from);
    } else {
      this.send({ ...this.blank(pre ? MessageType.PreVoteResp : MessageType.VoteResp, m.from), reject: true });
    }
  }

  protected grantVote(candidate: NodeId): void {
    this.electionElapsed = 0;
    this.vote = candidate;
  }

  // ---------------------------------------------------------------- roles

  protected stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        try {
          this.leaderAppendProposals(m.entries, m.from);
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err;
          this.logger.debug({ node: this.id, from: m.from, reason: err.message }, 'dropped forwarded proposal');
        }
        return;
      case MessageType.ReadIndex:
        this.handleReadIndexOnLeader(m);
        return;
      case MessageType.TransferLeader:
        if (m.transferee) this.handleTransferLeader(m.transferee);
        return;
    }
    const pr = this.prs.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case MessageType.AppResp:
        this.handleAppendResponse(m, pr);
        return;
      case MessageType.HeartbeatResp:
        this.handleHeartbeatResponse(m, pr);
        return;
    }
  }

  protected handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) nextProbe = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) {
      if (wasPaused && !pr.isPaused()) this.broadcastPending = true;
      return;
    }
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.raftLog.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) this.onLeaderCommit();
    // More entries to send, or room freed in the window: send at the next ready().
    this.broadcastPending = true;
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(m.from);
  }

  protected handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    // A heartbeat response frees the next probe at most once per heartbeat interval: ReadIndex
    // rounds bring many responses per interval, and each would otherwise resend a full append
    // (up to maxSizePerMsg) to a follower that has not answered the last one yet (a restarted
    // follower got megabytes of the same entries this way).
    if (pr.state !== 'probe' || this.ticks - pr.probeSentAtTick >= this.heartbeatTicks) pr.probeSent = false;
    // §5.3, the leader retries indefinitely: if every message that filled the window was lost, no
    // AppResp will ever free it. The follower is alive, so free one slot; the append sent below then
    // reveals the gap (it is rejected) and the follower is probed back into line (as etcd does).
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.raftLog.lastIndex()) this.sendAppend(m.from, true);
    if (!m.context || m.context.length === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (!acks) return;
    let votersAcked = 0;
    for (const id of acks) if (this.voters.has(id)) votersAcked++;
    if (votersAcked < majority(this.voters.size)) return;
    for (const read of this.readOnly.advance(m.context)) this.answerRead(read.from, read.index, read.context);
  }

  protected onLeaderCommit(): void {
    this.markCommitChanged();
    if (this.committedEntryInCurrentTerm() && this.pendingReadIndex.length > 0) {
      const queued = this.pendingReadIndex;
      this.pendingReadIndex = [];
      for (const m of queued) this.handleReadIndexOnLeader(m);
    }
  }

  protected markCommitChanged(): void {
    this.commitChangedSinceBroadcast = true;
    this.broadcastPending = true;
  }

  protected stepCandidate(m: Message): void {
    const respType = this.role === Role.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
      case MessageType.ReadIndex:
        return; // dropped: no leader known
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case respType: {
        const result = this.poll(m.from, !m.reject);
        if (result === 'won') {
          if (this.role === Role.PreCandidate) this.runElection(false, false);
          else {
            this.becomeLeader();
          }
        } else if (result === 'lost') {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
    }
  }

  protected stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
      case MessageType.ReadIndex:
      case MessageType.TransferLeader:
        // Forward what a follower received for the leader (it was aimed at an old leader).
        if (this.lead !== NONE) this.send({ ...m, from: this.id, to: this.lead, term: 0 });
        return;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TimeoutNow:
        this.logger.info({ node: this.id, term: this.term, from: m.from }, 'leadership transfer: campaigning now');
        this.hup(true);
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, context: m.context ?? EMPTY });
        return;
    }
  }

  // ---------------------------------------------------------------- replication (follower)

  protected handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.send({ ...this.blank(MessageType.AppResp, m.from), index: this.raftLog.committed });
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send({ ...this.blank(MessageType.AppResp, m.from), index: lastNew });
      return;
    }
    // Fast back-off: tell the leader the last index whose term may still match.
    const hint = this.raftLog.findConflictByTerm(Math.min(m.index, this.raftLog.lastIndex()), m.logTerm);
    this.send({
      ...this.blank(MessageType.AppResp, m.from),
      index: m.index,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term,
    });
  }

  protected handleHeartbeat(m: Message): void {
    // The leader sends min(our match, its commit), so this never exceeds what we hold.
    this.raftLog.commitTo(Math.min(m.commit, this.raftLog.lastIndex()));
    this.send({ ...this.blank(MessageType.HeartbeatResp, m.from), context: m.context });
  }

  protected handleSnapshot(m: Message): void {
    if (m.snapshot && this.restore(m.snapshot)) {
      this.send({ ...this.blank(MessageType.AppResp, m.from), index: this.raftLog.lastIndex() });
    } else {
      this.send({ ...this.blank(MessageType.AppResp, m.from), index: this.raftLog.committed });
    }
  }

  /** Install a leader's snapshot. Returns false when we already have everything it holds. */
  protected restore(s: Snapshot): boolean {
    if (s.meta.index <= this.raftLog.committed) return false;
    if (this.role !== Role.Follower) {
      throw new RaftInvariantError(`${this.id} asked to restore a snapshot while ${this.role}`);
    }
    const conf = s.meta.confState;
    if (!conf.voters.includes(this.id) && !conf.learners.includes(this.id)) {
      // A member added after the leader's latest snapshot: the change that adds us follows in the log.
      // Ignoring the snapshot (as etcd does) left such a newcomer stuck until the leader's host
      // happened to take a newer one, while the leader resent the same snapshot forever. A node
      // outside its own configuration is already how a newcomer starts, so accepting is safe.
      this.logger.info({ node: this.id, index: s.meta.index }, 'installing a snapshot from before we were added');
    }
    if (this.raftLog.matchTerm(s.meta.index, s.meta.term)) {
      // We hold the snapshot's last entry: just move commit forward.
      this.raftLog.commitTo(s.meta.index);
      return false;
    }
    this.raftLog.restore(s);
    this.setConf(conf);
    this.logger.info({ node: this.id, index: s.meta.index, term: s.meta.term }, 'restored snapshot');
    return true;
  }

  // ---------------------------------------------------------------- replication (leader)

  private leaderAppendProposals(entries: Entry[], from: NodeId): void {
    if (!this.voters.has(this.id) && !this.learners.has(this.id)) {
      throw new ProposalDroppedError(`${this.id} was removed from the cluster`);
    }
    if (this.leadTransferee !== NONE) {
      throw new ProposalDroppedError(`${this.id} is transferring leadership to ${this.leadTransferee}; proposals are refused meanwhile`);
    }
    const accepted: Entry[] = [];
    for (const e of entries) {
      if (e.type === EntryType.ConfChange && from !== this.id) {
        // Conf changes are accepted only through proposeConfChange on the leader.
        continue;
      }
      accepted.push({ term: 0, index: 0, type: e.type, data: e.data });
    }
    if (accepted.length === 0) return;
    this.appendEntries(accepted);
    for (const e of accepted) if (e.type === EntryType.ConfChange) this.pendingConfIndex = e.index;
  }

  private checkConfChangeAllowed(cc: ConfChange): void {
    if (this.leadTransferee !== NONE) {
      throw new ConfChangeRefusedError(`leadership transfer to ${this.leadTransferee} in progress`);
    }
    if (this.pendingConfIndex > this.raftLog.applied) {
      throw new ConfChangeRefusedError(
        `a membership change is already pending (index ${this.pendingConfIndex}, applied ${this.raftLog.applied}); one at a time`,
      );
    }
    if (!this.committedEntryInCurrentTerm()) {
      throw new ConfChangeRefusedError(`leader ${this.id} has not yet committed an entry in term ${this.term}`);
    }
    const problem = confChangeProblem(this.confState(), cc);
    if (problem) throw new ConfChangeRefusedError(problem);
  }

  protected appendEntries(entries: Entry[]): void {
    let index = this.raftLog.lastIndex();
    for (const e of entries) {
      e.term = this.term;
      e.index = ++index;
    }
    this.raftLog.append(entries);
    // The leader counts its own copy only once the host has persisted it (see advance()), so the
    // host may send these entries to followers before its own fsync finishes (dissertation §10.2.1).
    this.broadcastPending = true;
  }

  /** Figure 8: only an entry of the current term is committed by counting replicas. */
  protected maybeCommit(): boolean {
    const index = committedIndex(this.voters, (id) => this.prs.get(id)?.match ?? 0);
    return this.raftLog.maybeCommit(index, this.term);
  }

  protected committedEntryInCurrentTerm(): boolean {
    return this.raftLog.term(this.raftLog.committed) === this.term;
  }

  /** Send pending entries (and a changed commit index) to every follower, within their windows. */
  protected flushAppends(): void {
    this.broadcastPending = false;
    const announceCommit = this.commitChangedSinceBroadcast;
    this.commitChangedSinceBroadcast = false;
    if (this.role !== Role.Leader) return;
    for (const id of this.prs.keys()) {
      if (id === this.id) continue;
      let first = true;
      // Bounded: every iteration either sends entries (advancing next) or stops.
      while (this.sendAppend(id, first && announceCommit)) {
        first = false;
        if (this.prs.get(id)!.state !== 'replicate') break;
      }
    }
  }

  /** Send one AppendEntries (or a snapshot) to `to`. Returns whether a message was sent. */
  protected sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.term(prevIndex);
    let entries: Entry[] | undefined;
    if (prevTerm !== undefined) {
      try {
        entries = this.raftLog.entries(pr.next, this.maxSizePerMsgBytes);
      } catch (err) {
        if (!(err instanceof CompactedError)) throw err;
      }
    }
    if (prevTerm === undefined || entries === undefined) return this.sendSnapshot(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const e of entries) bytes += entrySizeBytes(e);
    this.send({
      ...this.blank(MessageType.App, to),
      index: prevIndex,
      logTerm: prevTerm,
      entries,
      commit: this.raftLog.committed,
    });
    pr.sentEntries(entries.length, entries.length > 0 ? entries[entries.length - 1].index : prevIndex, bytes);
    if (pr.state === 'probe') pr.probeSentAtTick = this.ticks;
    return entries.length > 0 || sendIfEmpty;
  }

  protected sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    const snapshot = this.raftLog.snapshot();
    if (snapshot.meta.index === 0) {
      throw new RaftInvariantError(`${to} needs entries that were compacted, but there is no snapshot`);
    }
    pr.becomeSnapshot(snapshot.meta.index);
    this.logger.info({ node: this.id, to, index: snapshot.meta.index }, 'sending snapshot');
    this.send({ ...this.blank(MessageType.Snap, to), snapshot });
    return true;
  }

  protected bcastHeartbeat(): void {
    const context = this.readOnly.lastPendingContext();
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      this.send({
        ...this.blank(MessageType.Heartbeat, id),
        commit: Math.min(pr.match, this.raftLog.committed),
        context,
      });
    }
  }

  // ---------------------------------------------------------------- reads

  /** ReadIndex (dissertation §6.4): confirm leadership with a heartbeat round, then answer the commit index. */
  protected handleReadIndexOnLeader(m: Message): void {
    const context = m.context ?? EMPTY;
    if (this.voters.size === 1 && this.voters.has(this.id)) {
      this.answerRead(m.from, this.raftLog.committed, context);
      return;
    }
    if (!this.committedEntryInCurrentTerm()) {
      // Our commit index may be behind the previous leader's until our no-op commits.
      this.pendingReadIndex.push(m);
      return;
    }
    this.readOnly.add(this.raftLog.committed, context, m.from);
    this.readOnly.recvAck(this.id, context);
    // One heartbeat round at the next ready() confirms every request registered until then
    // (an ack of a later context confirms the earlier ones).
    this.readHeartbeatPending = true;
  }

  private flushReadHeartbeat(): void {
    this.readHeartbeatPending = false;
    const context = this.readOnly.lastPendingContext();
    if (this.role === Role.Leader && context) this.bcastHeartbeatWithContext(context);
  }

  private bcastHeartbeatWithContext(context: Uint8Array): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      this.send({ ...this.blank(MessageType.Heartbeat, id), commit: Math.min(pr.match, this.raftLog.committed), context });
    }
  }

  protected answerRead(from: NodeId, index: number, context: Uint8Array): void {
    if (from === this.id || from === NONE) this.readStates.push({ index, context });
    else this.send({ ...this.blank(MessageType.ReadIndexResp, from), index, context });
  }

  // ---------------------------------------------------------------- leader transfer

  protected handleTransferLeader(transferee: NodeId): void {
    if (!this.voters.has(transferee)) {
      this.logger.warn({ node: this.id, transferee }, 'ignoring transfer to a node that is not a voter');
      return;
    }
    if (transferee === this.id) return;
    if (this.leadTransferee === transferee) return;
    if (this.leadTransferee !== NONE) this.abortLeaderTransfer();
    // The transfer must finish within one election timeout, or it is aborted.
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    this.logger.info({ node: this.id, term: this.term, transferee }, 'starting leadership transfer');
    const pr = this.prs.get(transferee)!;
    if (pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppend(transferee, true);
  }

  protected sendTimeoutNow(to: NodeId): void {
    this.send(this.blank(MessageType.TimeoutNow, to));
  }

  protected abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  // ---------------------------------------------------------------- helpers

  protected setConf(conf: ConfState): void {
    this.voters = new Set(conf.voters);
    this.learners = new Set(conf.learners);
    const next = this.raftLog.lastIndex() + 1;
    for (const id of [...this.prs.keys()]) {
      if (!this.voters.has(id) && !this.learners.has(id)) this.prs.delete(id);
    }
    for (const id of [...conf.voters, ...conf.learners]) {
      const pr = this.prs.get(id);
      if (pr) pr.isLearner = this.learners.has(id);
      else {
        const fresh = this.newProgress(id, next);
        if (id === this.id) fresh.match = next - 1;
        this.prs.set(id, fresh);
      }
    }
  }

  private newProgress(id: NodeId, next: number): Progress {
    return new Progress(next, this.learners.has(id), this.maxInflightMsgs, this.maxInflightBytes);
  }

  protected blank(type: MessageType, to: NodeId): Message {
    return { type, from: this.id, to, term: this.term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 };
  }

  protected send(m: Message): void {
    this.msgs.push(m);
  }
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export { cloneConf };
