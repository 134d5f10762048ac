import { randomBytes, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { KvError, LeaseClock, type KvCommand, type KvResult } from '@bramble/kv';
import {
  EntryType,
  MessageType,
  NONE,
  ProposalDroppedError,
  RaftNode,
  Role,
  decodeConfChange,
  seededRandom,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type Ready,
  type ReadState,
  type Snapshot,
  type Status,
  type BasicStatus,
} from '@bramble/raft';
import type { LevelStorage } from '@bramble/storage';
import type { PeerTransport } from '@bramble/transport';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import { decodeMemberContext, decodeProposal, encodeMemberContext, encodeProposal } from './proposal-codec.js';
import { MasterStateMachine } from './state-machine.js';

/** Message types that claim nothing about this node's disk: safe to send before the Ready is persisted. */
const SEND_BEFORE_PERSIST = new Set<MessageType>([
  MessageType.App, // only leaders send it; see RaftNode.advance
  MessageType.Heartbeat,
  MessageType.HeartbeatResp,
  MessageType.Prop,
  MessageType.ReadIndex,
  MessageType.ReadIndexResp,
]);

/** An error the API layer maps to a gRPC status. */
export class HostError extends Error {
  constructor(
    readonly code: 'UNAVAILABLE' | 'DEADLINE_EXCEEDED' | 'FAILED_PRECONDITION' | 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'ABORTED',
    message: string,
  ) {
    super(message);
  }
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

interface ReadRound {
  context: string;
  waiters: Waiter<void>[];
  timer: NodeJS.Timeout;
}

export interface RaftHostOptions {
  name: string;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  snapshotEntries: number;
  snapshotCatchUpEntries: number;
  /** The address to dial for a member (see MasterOptions.peerDial). */
  dialAddress(member: string, advertised: string): string;
  logger: Logger;
  metrics: Metrics;
}

/**
 * Drives one RaftNode: ticks it, feeds it peer messages, and runs the Ready loop
 * (persist, send, apply, advance) one Ready at a time. Client proposals arriving in
 * the same event-loop turn become one batch; concurrent linearizable reads share
 * one ReadIndex round.
 */
export class RaftHost extends EventEmitter {
  readonly node: RaftNode;
  sm: MasterStateMachine;
  private readonly boot = randomBytes(6).toString('hex');
  private seq = 0;
  private readonly waiters = new Map<number, Waiter<KvResult>>();
  private readonly confWaiters = new Map<string, Waiter<ConfState>>();
  private proposalQueue: Uint8Array[] = [];
  private proposeScheduled = false;
  private readQueue: Waiter<void>[] = [];
  private readRound: ReadRound | undefined;
  private readSeq = 0;
  /** Reads confirmed at an index not yet applied, ordered by index. */
  private appliedWaiters: Array<{ index: number; waiter: Waiter<void> }> = [];
  private ticker: NodeJS.Timeout | undefined;
  private running = false;
  private loopDone: Promise<void> | undefined;
  private wakeLoop: (() => void) | undefined;
  private role: Role = Role.Follower;
  /** Highest index applied to the state machine here (ahead of the core's view until advance()). */
  private lastApplied = 0;
  private leader = NONE;
  private snapshotIndex: number;
  private snapshotInFlight = false;
  readonly leaseClock = new LeaseClock();
  private removed = false;
  private fatal: Error | undefined;

  constructor(
    readonly opts: RaftHostOptions,
    readonly storage: LevelStorage,
    readonly transport: PeerTransport,
    sm: MasterStateMachine,
  ) {
    super();
    this.sm = sm;
    const snapshot = storage.snapshot();
    this.snapshotIndex = snapshot.meta.index;
    this.lastApplied = snapshot.meta.index;
    this.node = new RaftNode({
      id: opts.name,
      storage,
      random: seededRandom(randomInt(2 ** 31)),
      electionTicks: opts.electionTicks,
      heartbeatTicks: opts.heartbeatTicks,
      applied: snapshot.meta.index,
      logger: {
        debug: (o, m) => opts.logger.debug(o, m),
        info: (o, m) => opts.logger.info(o, m),
        warn: (o, m) => opts.logger.warn(o, m),
      },
    });
  }

  get name(): string {
    return this.opts.name;
  }

  start(): void {
    this.running = true;
    this.ticker = setInterval(() => this.tick(), this.opts.tickMs);
    this.loopDone = this.runLoop().catch((err: Error) => {
      this.fatal = err;
      this.opts.logger.fatal({ err }, 'raft loop failed');
      this.emit('fatal', err);
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.ticker) clearInterval(this.ticker);
    this.wake();
    await this.loopDone;
    const stopped = new HostError('UNAVAILABLE', `master ${this.name} is shutting down`);
    for (const w of this.waiters.values()) this.settle(w, stopped);
    for (const w of this.confWaiters.values()) this.settle(w, stopped);
    this.failReads(stopped);
  }

  // ------------------------------------------------------------------ inputs

  step(m: Parameters<RaftNode['step']>[0]): void {
    if (!this.running) return;
    this.node.step(m);
    this.wake();
  }

  reportUnreachable(peer: string): void {
    this.node.reportUnreachable(peer);
  }

  reportSnapshot(peer: string, ok: boolean): void {
    this.node.reportSnapshot(peer, ok);
    this.wake();
  }

  /** The connection to `peer` was reset: if it was our leader, stop trusting its lease. */
  peerDisconnected(peer: string): void {
    if (peer === this.leader && this.role === Role.Follower) {
      this.opts.logger.info({ leader: peer }, 'lost the connection to the leader; forgetting it');
      this.node.forgetLeader();
      this.wake();
      // Campaign soon rather than after a whole election timeout. Followers take turns by name
      // (two tick intervals apart, plus jitter) so they do not split the vote; PreVote makes this
      // harmless if the leader is in fact alive, and a follower with a shorter log simply loses.
      const voters = this.node.confState().voters.filter((v) => v !== peer).sort();
      const rank = Math.max(0, voters.indexOf(this.name));
      const delayMs = rank * 2 * this.opts.tickMs + randomInt(0, Math.ceil(this.opts.tickMs / 2) + 1);
      setTimeout(() => {
        if (!this.running || this.role !== Role.Follower || this.node.basicStatus().leader !== NONE) return;
        this.node.campaign();
        this.wake();
      }, delayMs);
    }
  }

  private tick(): void {
    this.node.tick();
    if (this.role === Role.Leader) this.leaderHousekeeping();
    this.wake();
  }

  /** Propose a KV command; resolves with its result once applied here. */
  propose(cmd: KvCommand, timeoutMs: number): Promise<KvResult> {
    this.ensureServing();
    const seq = ++this.seq;
    const data = encodeProposal({ origin: this.name, boot: this.boot, seq, cmd });
    return new Promise<KvResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(seq);
        reject(new HostError('DEADLINE_EXCEEDED', `no result within ${timeoutMs} ms; the write may or may not have been applied`));
      }, timeoutMs);
      this.waiters.set(seq, { resolve, reject, timer });
      this.proposalQueue.push(data);
      this.opts.metrics.proposals.inc();
      if (!this.proposeScheduled) {
        this.proposeScheduled = true;
        setImmediate(() => this.flushProposals());
      }
    });
  }

  private flushProposals(): void {
    this.proposeScheduled = false;
    const batch = this.proposalQueue;
    this.proposalQueue = [];
    if (batch.length === 0) return;
    try {
      this.node.proposeBatch(batch);
      this.wake();
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      const dropped = new HostError('UNAVAILABLE', `proposal dropped: ${err.message}`);
      this.opts.metrics.proposalsFailed.inc(batch.length);
      for (const data of batch) {
        const seq = decodeProposal(data).seq;
        const w = this.waiters.get(seq);
        if (w) {
          this.waiters.delete(seq);
          this.settle(w, dropped);
        }
      }
    }
  }

  /** Resolves once this master has applied everything committed before the call (ReadIndex). */
  linearizableRead(timeoutMs: number): Promise<void> {
    this.ensureServing();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter<void> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.readQueue = this.readQueue.filter((w) => w !== waiter);
          this.appliedWaiters = this.appliedWaiters.filter((w) => w.waiter !== waiter);
          reject(new HostError('DEADLINE_EXCEEDED', `linearizable read not confirmed within ${timeoutMs} ms (no leader?)`));
        }, timeoutMs),
      };
      this.readQueue.push(waiter);
      if (!this.readRound) this.startReadRound();
    });
  }

  private startReadRound(): void {
    if (this.readQueue.length === 0) return;
    const context = `${this.name}/${this.boot}/${++this.readSeq}`;
    const round: ReadRound = {
      context,
      waiters: this.readQueue,
      // A lost ReadIndex request or response must not stall every later read.
      timer: setTimeout(() => this.retryReadRound(round), this.opts.tickMs * this.opts.electionTicks),
    };
    this.readQueue = [];
    this.readRound = round;
    try {
      this.node.readIndex(new TextEncoder().encode(context));
      this.wake();
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      // No leader right now: keep the reads queued and retry on the next round (they have deadlines).
      clearTimeout(round.timer);
      this.readRound = undefined;
      this.readQueue = round.waiters.concat(this.readQueue);
      setTimeout(() => {
        if (!this.readRound) this.startReadRound();
      }, this.opts.tickMs);
    }
  }

  private retryReadRound(round: ReadRound): void {
    if (this.readRound !== round) return;
    this.readRound = undefined;
    this.readQueue = round.waiters.concat(this.readQueue);
    this.startReadRound();
  }

  private onReadState(rs: ReadState): void {
    const round = this.readRound;
    if (!round || new TextDecoder().decode(rs.context) !== round.context) return;
    clearTimeout(round.timer);
    this.readRound = undefined;
    const applied = this.lastApplied;
    for (const w of round.waiters) {
      if (rs.index <= applied) this.settle(w);
      else this.appliedWaiters.push({ index: rs.index, waiter: w });
    }
    if (this.readQueue.length > 0) this.startReadRound();
  }

  private releaseAppliedWaiters(applied: number): void {
    if (this.appliedWaiters.length === 0) return;
    const still: typeof this.appliedWaiters = [];
    for (const w of this.appliedWaiters) {
      if (w.index <= applied) this.settle(w.waiter);
      else still.push(w);
    }
    this.appliedWaiters = still;
  }

  private failReads(err: Error): void {
    if (this.readRound) {
      clearTimeout(this.readRound.timer);
      for (const w of this.readRound.waiters) this.settle(w, err);
      this.readRound = undefined;
    }
    for (const w of this.readQueue) this.settle(w, err);
    this.readQueue = [];
    for (const w of this.appliedWaiters) this.settle(w.waiter, err);
    this.appliedWaiters = [];
  }

  /** Propose a membership change on the leader and wait until it is applied here. */
  proposeConfChange(cc: ConfChange, timeoutMs: number): Promise<ConfState> {
    this.ensureServing();
    const ctx = decodeMemberContext(cc.context) ?? { address: '', httpAddress: '' };
    const requestId = `${this.name}/${this.boot}/${++this.seq}`;
    const change: ConfChange = { ...cc, context: encodeMemberContext({ ...ctx, requestId }) };
    return new Promise<ConfState>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.confWaiters.delete(requestId);
        reject(new HostError('DEADLINE_EXCEEDED', `membership change not applied within ${timeoutMs} ms`));
      }, timeoutMs);
      this.confWaiters.set(requestId, { resolve, reject, timer });
      try {
        this.node.proposeConfChange(change);
        this.wake();
      } catch (err) {
        clearTimeout(timer);
        this.confWaiters.delete(requestId);
        reject(err);
      }
    });
  }

  /**
   * A peer's linearizable member list no longer has this member: its removal committed,
   * but the commit never reached us (the leader stops replicating to a member as soon
   * as it applies the member's removal, often before telling it the entry committed).
   * Stop as if we had applied it; etcd does the same when peers answer 410 Gone.
   */
  learnedRemoved(from: string): void {
    if (this.removed || !this.running) return;
    this.opts.logger.warn({ member: this.name, from }, 'this member was removed from the cluster (learned from a peer); stopping');
    this.removed = true;
    this.wake();
  }

  transferLeader(to: string): void {
    this.ensureServing();
    this.node.transferLeader(to);
    this.wake();
  }

  // ------------------------------------------------------------------ views

  status(): Status {
    return this.node.status();
  }

  /** Term, leader, role, commit and applied: cheap enough for every response header. */
  basicStatus(): BasicStatus {
    return this.node.basicStatus();
  }

  get isLeader(): boolean {
    return this.role === Role.Leader;
  }

  get leaderName(): string {
    return this.leader;
  }

  /** The last log index applied to `sm` (ahead of status().applied between apply and advance). */
  get appliedIndex(): number {
    return this.lastApplied;
  }

  get currentSnapshotIndex(): number {
    return this.snapshotIndex;
  }

  get healthy(): boolean {
    return this.running && !this.fatal;
  }

  // ------------------------------------------------------------------ the Ready loop

  private wake(): void {
    const w = this.wakeLoop;
    if (w) {
      this.wakeLoop = undefined;
      w();
    }
  }

  private async runLoop(): Promise<void> {
    while (this.running) {
      if (this.removed) {
        // learnedRemoved(): stop as if the removal had been applied here.
        this.running = false;
        this.emit('removed');
        break;
      }
      if (!this.node.hasReady()) {
        await new Promise<void>((resolve) => (this.wakeLoop = resolve));
        continue;
      }
      const rd = this.node.ready();
      if (rd.softState) this.onSoftState(rd.softState.role, rd.softState.leader);
      // Messages that acknowledge nothing durable leave now, while the disk works; votes and
      // append acknowledgements wait for the fsync. (A leader's appends may go first: the core
      // counts the leader's own copy only after advance().)
      const early: Message[] = [];
      const late: Message[] = [];
      for (const m of rd.messages) (SEND_BEFORE_PERSIST.has(m.type) ? early : late).push(m);
      if (early.length > 0) this.transport.send(early);
      // Committed entries that are already durable here are applied without waiting for this
      // Ready's fsync (they are on a majority's disks, ours included); the rest after it.
      const applyStart = performance.now();
      const durable = rd.snapshot ? -1 : this.storage.lastIndex();
      let appliedBefore = 0;
      while (appliedBefore < rd.committedEntries.length && rd.committedEntries[appliedBefore].index <= durable) {
        this.applyEntry(rd.committedEntries[appliedBefore++]);
      }
      if (appliedBefore > 0) this.releaseAppliedWaiters(this.lastApplied);
      await this.persist(rd);
      if (late.length > 0) this.transport.send(late);
      if (rd.snapshot) this.installSnapshot(rd.snapshot);
      for (let i = appliedBefore; i < rd.committedEntries.length; i++) this.applyEntry(rd.committedEntries[i]);
      if (rd.committedEntries.length > 0 || rd.snapshot) {
        this.opts.metrics.applyDuration.observe((performance.now() - applyStart) / 1000);
      }
      for (const rs of rd.readStates) this.onReadState(rs);
      this.node.advance(rd);
      const status = this.node.basicStatus();
      this.releaseAppliedWaiters(this.lastApplied);
      this.opts.metrics.update(status, this.sm.kv.revision);
      this.maybeSnapshot(status.applied);
      if (this.removed) {
        this.running = false;
        this.emit('removed');
      }
    }
  }

  private async persist(rd: Ready): Promise<void> {
    if (rd.entries.length === 0 && !rd.hardState && !rd.snapshot) return;
    const start = performance.now();
    await this.storage.persist({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot, mustSync: rd.mustSync });
    if (rd.mustSync) this.opts.metrics.fsyncDuration.observe((performance.now() - start) / 1000);
  }

  private onSoftState(role: Role, leader: string): void {
    const wasLeader = this.role === Role.Leader;
    this.role = role;
    if (leader !== this.leader) {
      this.opts.logger.info({ leader: leader || null, term: this.node.basicStatus().term }, 'leader changed');
      this.opts.metrics.leaderChanges.inc();
    }
    this.leader = leader;
    if (role === Role.Leader && !wasLeader) {
      // A new leader gives every lease a fresh TTL (as etcd does): it cannot know how long the old leader waited.
      this.leaseClock.resetAll(this.sm.kv.leases(), Date.now());
    }
    this.emit('leader', leader);
  }

  private installSnapshot(snapshot: Snapshot): void {
    this.opts.logger.info({ index: snapshot.meta.index, term: snapshot.meta.term }, 'installing snapshot from the leader');
    const old = this.sm;
    this.sm = MasterStateMachine.restore(snapshot.data);
    this.snapshotIndex = snapshot.meta.index;
    this.lastApplied = snapshot.meta.index;
    this.emit('state-replaced', old);
    this.syncPeers();
  }

  private applyEntry(e: Entry): void {
    this.lastApplied = e.index;
    if (e.type === EntryType.ConfChange) {
      this.applyConfChange(decodeConfChange(e.data), e.index);
      return;
    }
    if (e.data.length === 0) return; // a leader's no-op
    const p = decodeProposal(e.data);
    let result: KvResult | undefined;
    let error: Error | undefined;
    try {
      result = this.sm.kv.apply(p.cmd);
    } catch (err) {
      if (!(err instanceof KvError)) throw err;
      error = err;
    }
    if (result && this.role === Role.Leader) this.trackLease(p.cmd);
    if (p.origin !== this.name || p.boot !== this.boot) return;
    const w = this.waiters.get(p.seq);
    if (!w) return;
    this.waiters.delete(p.seq);
    if (error) this.settle(w, error);
    else this.settle(w, result!);
  }

  private applyConfChange(cc: ConfChange, index: number): void {
    const conf = this.node.applyConfChange(cc);
    this.sm.applyConfChange(cc, conf);
    this.opts.logger.info({ change: cc.type, member: cc.nodeId, index, voters: conf.voters, learners: conf.learners }, 'membership changed');
    void this.storage.saveConfState(conf, index).catch((err: Error) => this.opts.logger.error({ err }, 'saving conf state failed'));
    this.syncPeers();
    const requestId = decodeMemberContext(cc.context)?.requestId;
    const w = requestId ? this.confWaiters.get(requestId) : undefined;
    if (w && requestId) {
      this.confWaiters.delete(requestId);
      this.settle(w, conf);
    }
    if (cc.type === 'removeNode' && cc.nodeId === this.name) {
      this.opts.logger.warn({ member: this.name }, 'this member was removed from the cluster; stopping');
      this.removed = true;
    }
    this.emit('members');
  }

  /** Point the transport at exactly the members the configuration holds. */
  private syncPeers(): void {
    const conf = this.node.confState();
    const wanted = new Set([...conf.voters, ...conf.learners].filter((n) => n !== this.name));
    for (const m of this.sm.members.values()) {
      if (wanted.has(m.name) && m.address) this.transport.addPeer(m.name, this.opts.dialAddress(m.name, m.address));
    }
    for (const peer of Object.keys(this.transport.peerStats())) if (!wanted.has(peer)) this.transport.removePeer(peer);
  }

  private maybeSnapshot(applied: number): void {
    if (this.snapshotInFlight || applied - this.snapshotIndex < this.opts.snapshotEntries) return;
    this.snapshotInFlight = true;
    const data = this.sm.snapshot();
    const conf = this.node.confState();
    const compactTo = Math.max(this.storage.firstIndex(), applied - this.opts.snapshotCatchUpEntries);
    const start = performance.now();
    this.storage
      .saveSnapshot(applied, conf, data, compactTo)
      .then(() => {
        this.snapshotIndex = applied;
        this.opts.logger.info({ index: applied, compactTo, bytes: data.length, ms: Math.round(performance.now() - start) }, 'snapshot saved');
      })
      .catch((err: Error) => this.opts.logger.error({ err, index: applied }, 'snapshot failed'))
      .finally(() => (this.snapshotInFlight = false));
  }

  // ------------------------------------------------------------------ leader duties

  private trackLease(cmd: KvCommand): void {
    const now = Date.now();
    if (cmd.type === 'leaseGrant') this.leaseClock.grant(cmd.id, cmd.ttlSeconds, now);
    else if (cmd.type === 'leaseKeepAlive') this.leaseClock.keepAlive(cmd.id, now);
    else if (cmd.type === 'leaseRevoke') this.leaseClock.revoke(cmd.id);
  }

  private leaderHousekeeping(): void {
    // LeaseClock reports an expired lease again only after a retry interval, so a lost revoke is retried.
    for (const id of this.leaseClock.expired(Date.now())) {
      this.propose({ type: 'leaseRevoke', id }, 5000).catch(() => undefined);
    }
    this.promoteCaughtUpLearners();
  }

  /** A learner added without --learner becomes a voter once it holds nearly the whole log. */
  private promoteCaughtUpLearners(): void {
    const status = this.node.status();
    if (status.leadTransferee) return;
    for (const learner of status.confState.learners) {
      const member = this.sm.members.get(learner);
      const pr = status.progress[learner];
      if (!member || member.stayLearner || !pr) continue;
      if (pr.state === 'replicate' && pr.match >= status.commit) {
        try {
          this.node.proposeConfChange({ type: 'addNode', nodeId: learner });
          this.opts.logger.info({ member: learner, match: pr.match }, 'learner caught up; promoting to voter');
          this.wake();
        } catch {
          // Another change is pending or we just became leader; try again on a later tick.
        }
        return;
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  private ensureServing(): void {
    if (this.removed) throw new HostError('FAILED_PRECONDITION', `master ${this.name} was removed from the cluster`);
    if (!this.running) throw new HostError('UNAVAILABLE', `master ${this.name} is not running`);
  }

  private settle<T>(w: Waiter<T>, value?: T | Error): void {
    clearTimeout(w.timer);
    if (value instanceof Error) w.reject(value);
    else w.resolve(value as T);
  }
}
