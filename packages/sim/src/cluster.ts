import {
  CompactedError,
  EntryType,
  MemoryStorage,
  MessageType,
  Role,
  decodeConfChange,
  encodeConfChange,
  seededRandom,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type RaftConfig,
  type RaftNode,
  type ReadState,
  type Ready,
} from '@bramble/raft';
import { SafetyChecker, type Violation, type ViolationKind } from './checker.js';
import { describeConf, describeEntries, describeEntry, describeHardState, describeMessage } from './describe.js';
import { Network, type Envelope, type NetworkOptions } from './network.js';
import type { Prng } from './prng.js';
import { KvStateMachine, decodeCommand, type KvCommand, type KvWriteResult } from './state-machine.js';
import { Trace } from './trace.js';

/** Simulator time units per Raft tick. Message delays and timeouts are in these units. */
export const UNITS_PER_TICK = 10;

export type NodeFactory = (cfg: RaftConfig) => RaftNode;

/** Raft settings shared by every node of one run (the sim adds id, storage, random and applied). */
export type RaftOptions = Omit<RaftConfig, 'id' | 'storage' | 'random' | 'applied' | 'logger'>;

/**
 * Where, inside the handling of its next Ready, an armed crash strikes.
 * 'leader-sent-unpersisted': a leader may send its appends and heartbeats before its own
 * fsync (dissertation §10.2.1); it does, then dies before persisting anything.
 */
export type CrashPoint = 'before-persist' | 'after-persist' | 'after-send' | 'leader-sent-unpersisted';

export type NodeStatus = 'up' | 'down' | 'stopped';

/** Thrown to unwind the run at the first safety violation. */
export class ViolationFound extends Error {
  constructor(readonly violation: Violation) {
    super(`${violation.kind}: ${violation.detail}`);
  }
}

/** One simulated server: durable storage that survives crashes, and the in-memory rest that does not. */
export class SimNode {
  /** Survives crashes: what the node persisted. */
  readonly storage: MemoryStorage;
  /** Undefined while crashed or stopped. */
  raft: RaftNode | undefined;
  sm = new KvStateMachine();
  /** Configuration as of `sm.applied`. */
  confState: ConfState;
  status: NodeStatus = 'down';
  /** Bumped at every (re)start. */
  incarnation = 0;
  role: Role = Role.Follower;
  leaderHint: NodeId = '';
  term = 0;
  /** The hard state on disk. */
  persisted: HardState = { term: 0, vote: '', commit: 0 };
  /** Highest commit seen in this incarnation (starts at the persisted commit). */
  commit = 0;
  snapshotIndex = 0;
  nextTickAt = 0;
  armedCrash: CrashPoint | undefined;
  /** Has advanced its commit index since it last became leader. */
  committedAsLeader = false;

  constructor(
    readonly id: NodeId,
    initialConf: ConfState,
    /** Time units between this node's ticks: clocks run at slightly different rates. */
    readonly tickEvery: number,
  ) {
    this.storage = new MemoryStorage(initialConf);
    if (initialConf.voters.length > 0) {
      // Bootstrap as the master does (and etcd): the initial voters are also the first log
      // entries, so a member that joins later and replays from index 1 learns them.
      const entries = bootstrapEntries(initialConf.voters);
      this.storage.append(entries);
      this.storage.setHardState({ term: 1, vote: '', commit: entries.length });
    }
    this.confState = { voters: [...initialConf.voters], learners: [...initialConf.learners] };
  }

  isUp(): boolean {
    return this.status === 'up';
  }
}

export interface ClusterHooks {
  onApplied(node: NodeId, cmd: KvCommand, result: KvWriteResult): void;
  onAppliedUpTo(node: NodeId): void;
  onReadState(node: NodeId, rs: ReadState): void;
  onNodeDown(node: NodeId): void;
  onLeader(node: NodeId, term: number): void;
  /** The newest committed configuration changed (a conf change applied, or a newer snapshot installed). */
  onLatestConf(previous: ConfState, next: ConfState): void;
}

export interface ClusterOptions {
  prng: Prng;
  network: NetworkOptions;
  raft: RaftOptions;
  nodeFactory: NodeFactory;
  /** Keep every trace line (else a ring of the last few thousand). */
  traceAll: boolean;
  /** Take a snapshot when a node has applied this many entries past its last one. */
  snapshotEvery: number;
  /** After a snapshot, keep up to this many applied entries in the log (so slow followers can still catch up from it). */
  compactKeepMax: number;
  /** Probability that a node crashes right after granting a vote (and comes back quickly). */
  crashAfterVoteRate: number;
  /** Probability that a leader crashes right after sending new entries (before or after persisting them itself). */
  crashAfterAppendRate: number;
  /** Probability that a new leader crashes at once (its no-op persisted, maybe not sent): divergent tails, Figure 8. */
  crashAfterElectionRate: number;
  /** Probability that a leader crashes right after persisting a higher commit index, before sending anything. */
  crashAfterCommitRate: number;
  /** The same, for the first commit a new leader makes (where Figure 8's danger lies). */
  crashAfterFirstCommitRate: number;
  /** Per-node tick interval is UNITS_PER_TICK +- this (clock skew). */
  tickSkew: number;
}

export interface ClusterCounters {
  crashes: number;
  restarts: number;
  stops: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  confChangesApplied: number;
  readies: number;
  lostToDownNodes: number;
  crashesAfterVote: number;
  crashesAfterElection: number;
  crashesAfterCommit: number;
}

/**
 * The nodes, the network, the logical clock and the safety checker of one run.
 * Drives each node's host loop: ticks, message delivery, and Ready handling
 * (persist, send, apply, advance) with crash points inside it.
 */
export class Cluster {
  time = 0;
  step = 0;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly network: Network;
  readonly checker: SafetyChecker;
  readonly trace: Trace;
  readonly counters: ClusterCounters = {
    crashes: 0,
    restarts: 0,
    stops: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    confChangesApplied: 0,
    readies: 0,
    lostToDownNodes: 0,
    crashesAfterVote: 0,
    crashesAfterElection: 0,
    crashesAfterCommit: 0,
  };
  /** The newest committed configuration any node applied, and its index. */
  latestConf: { index: number; conf: ConfState };
  hooks: ClusterHooks | undefined;
  /** Scheduled restarts: node -> time. */
  readonly restartAt = new Map<NodeId, number>();
  private readonly prng: Prng;
  private readonly deferred: Array<() => void> = [];
  private readonly nodeList: SimNode[] = [];

  constructor(private readonly opts: ClusterOptions, initialConf: ConfState) {
    this.prng = opts.prng;
    this.network = new Network(opts.prng, opts.network);
    this.network.onLost = (m, reason) => this.onMessageLost(m, reason);
    this.checker = new SafetyChecker(() => ({ step: this.step, time: this.time }));
    this.trace = new Trace(4000, opts.traceAll);
    this.latestConf = { index: 0, conf: { voters: [...initialConf.voters], learners: [...initialConf.learners] } };
  }

  log(line: string): void {
    this.trace.add(`t=${this.time} step=${this.step} ${line}`);
  }

  fail(kind: ViolationKind, node: NodeId | undefined, detail: string): never {
    const v: Violation = node === undefined ? { kind, step: this.step, time: this.time, detail } : { kind, step: this.step, time: this.time, node, detail };
    throw new ViolationFound(v);
  }

  private check(v: Violation | undefined): void {
    if (v !== undefined) throw new ViolationFound(v);
  }

  // ------------------------------------------------------------ membership of the simulation

  /** Create a node (with fresh storage holding `conf`) and start it. */
  addNode(id: NodeId, conf: ConfState): SimNode {
    if (this.nodes.has(id)) throw new Error(`sim: node ${id} already exists`);
    const skew = this.opts.tickSkew;
    const tickEvery = UNITS_PER_TICK - skew + this.prng.int(2 * skew + 1);
    const n = new SimNode(id, conf, tickEvery);
    this.nodes.set(id, n);
    this.nodeList.push(n);
    this.start(n, 'created');
    return n;
  }

  /** Forget a node that never joined (its conf change was refused). */
  removeNode(id: NodeId): void {
    const n = this.nodes.get(id);
    if (n === undefined) return;
    if (n.isUp()) this.halt(n, 'stopped', 'never joined');
    this.nodes.delete(id);
    this.nodeList.splice(this.nodeList.indexOf(n), 1);
  }

  all(): readonly SimNode[] {
    return this.nodeList;
  }

  up(): SimNode[] {
    return this.nodeList.filter((n) => n.status === 'up');
  }

  get(id: NodeId): SimNode | undefined {
    return this.nodes.get(id);
  }

  /** The live node that believes it leads the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodeList) {
      if (n.status === 'up' && n.role === Role.Leader && (best === undefined || n.term > best.term)) best = n;
    }
    return best;
  }

  // ------------------------------------------------------------ crash / restart

  private start(n: SimNode, why: string): void {
    const { hardState } = n.storage.initialState();
    const snap = n.storage.snapshot();
    const cfg: RaftConfig = {
      ...this.opts.raft,
      id: n.id,
      storage: n.storage,
      random: seededRandom(this.prng.u32()),
      applied: snap.meta.index,
    };
    n.incarnation++;
    n.status = 'up';
    n.sm = KvStateMachine.restore(snap.data);
    if (n.sm.applied !== snap.meta.index) {
      throw new Error(`sim: snapshot at ${snap.meta.index} of ${n.id} holds state applied to ${n.sm.applied}`);
    }
    n.confState = { voters: [...snap.meta.confState.voters], learners: [...snap.meta.confState.learners] };
    n.snapshotIndex = snap.meta.index;
    n.commit = hardState.commit;
    n.term = hardState.term;
    n.persisted = { ...hardState };
    n.role = Role.Follower;
    n.leaderHint = '';
    n.armedCrash = undefined;
    n.nextTickAt = this.time + 1 + this.prng.int(n.tickEvery);
    n.raft = this.opts.nodeFactory(cfg);
    const st = n.raft.status();
    if (st.commit < hardState.commit) {
      this.fail('monotonic-commit', n.id, `${n.id} restarted with commit ${st.commit}, below its persisted commit ${hardState.commit}`);
    }
    this.log(
      `${why === 'created' ? 'start' : 'restart'} ${n.id} (incarnation ${n.incarnation}) from snapshot ${snap.meta.index} ` +
        `log ${n.storage.firstIndex()}..${n.storage.lastIndex()} hs{${describeHardState(hardState)}} conf=${describeConf(n.confState)}`,
    );
    this.processReady(n);
  }

  restart(n: SimNode): void {
    if (n.status !== 'down') return;
    this.restartAt.delete(n.id);
    this.counters.restarts++;
    this.start(n, 'restart');
  }

  /** Crash now: drop everything in memory, keep storage. */
  crash(n: SimNode, why: string): void {
    if (n.status !== 'up') return;
    this.counters.crashes++;
    this.halt(n, 'down', why);
  }

  /** Stop for good (a removed member being decommissioned). */
  stop(n: SimNode, why: string): void {
    if (n.status === 'stopped') return;
    this.counters.stops++;
    this.restartAt.delete(n.id);
    if (n.status === 'up') this.halt(n, 'stopped', why);
    else {
      n.status = 'stopped';
      this.log(`stop ${n.id} (${why})`);
    }
  }

  private halt(n: SimNode, status: NodeStatus, why: string): void {
    n.raft = undefined;
    n.status = status;
    n.sm = new KvStateMachine();
    n.role = Role.Follower;
    n.leaderHint = '';
    n.armedCrash = undefined;
    this.log(`${status === 'down' ? 'crash' : 'stop'} ${n.id} (${why})`);
    this.hooks?.onNodeDown(n.id);
  }

  // ------------------------------------------------------------ time

  /** Run every tick and delivery due up to `time + units`, in time order. */
  advance(units: number): void {
    const target = this.time + units;
    for (;;) {
      const tMsg = this.network.nextDeliveryTime() ?? Infinity;
      let ticker: SimNode | undefined;
      let tTick = Infinity;
      for (const n of this.nodeList) {
        if (n.status === 'up' && n.nextTickAt < tTick) {
          tTick = n.nextTickAt;
          ticker = n;
        }
      }
      const t = Math.min(tMsg, tTick);
      if (t > target) break;
      this.time = Math.max(this.time, t);
      if (tMsg <= tTick) {
        const env = this.network.popDue(t);
        if (env !== undefined) this.deliver(env);
      } else if (ticker !== undefined) {
        ticker.nextTickAt += ticker.tickEvery;
        ticker.raft!.tick();
        this.processReady(ticker);
      }
    }
    this.time = target;
  }

  private deliver(env: Envelope): void {
    const m = env.msg;
    const n = this.nodes.get(m.to);
    if (n === undefined || n.status !== 'up') {
      this.counters.lostToDownNodes++;
      this.onMessageLost(m, 'blocked');
      return;
    }
    if (this.opts.traceAll || (m.type !== MessageType.Heartbeat && m.type !== MessageType.HeartbeatResp)) {
      this.log(`deliver ${describeMessage(m)}`);
    }
    if (m.type === MessageType.Snap) {
      // The transport finished streaming the snapshot: tell the sender.
      const sender = this.nodes.get(m.from);
      if (sender?.raft !== undefined) {
        sender.raft.reportSnapshot(m.to, true);
        this.processReady(sender);
      }
      if (n.status !== 'up') return;
    }
    n.raft!.step(m);
    this.processReady(n);
  }

  /**
   * A message that will never arrive. A snapshot's sender learns that sending failed;
   * when the peer is unreachable (partitioned, cut off, down) the sender's transport
   * notices and reports it, as etcd's does. Silent drops go unnoticed.
   */
  private onMessageLost(m: Message, reason: 'dropped' | 'blocked'): void {
    if (m.type !== MessageType.Snap && reason === 'dropped') return;
    this.deferred.push(() => {
      const sender = this.nodes.get(m.from);
      if (sender?.raft === undefined) return;
      if (m.type === MessageType.Snap) sender.raft.reportSnapshot(m.to, false);
      if (reason === 'blocked') sender.raft.reportUnreachable(m.to);
      this.processReady(sender);
    });
  }

  // ------------------------------------------------------------ the host loop

  /** Handle `n`'s Ready until it has none (bounded), then run deferred transport reports. */
  processReady(n: SimNode): void {
    for (let i = 0; i < 16 && n.raft !== undefined && n.raft.hasReady(); i++) this.handleReady(n, n.raft);
    while (this.deferred.length > 0) this.deferred.shift()!();
  }

  private handleReady(n: SimNode, raft: RaftNode): void {
    const rd = raft.ready();
    this.counters.readies++;
    let crashPoint = n.armedCrash;
    if (rd.softState !== undefined) this.onSoftState(n, raft, rd);
    if (crashPoint === undefined && rd.softState?.role === Role.Leader && this.prng.chance(this.opts.crashAfterElectionRate)) {
      // Leaves the new leader's no-op (and anything it appended) on its disk only, or on a few.
      crashPoint = this.prng.chance(0.5) ? 'after-persist' : 'after-send';
      this.counters.crashesAfterElection++;
      this.restartAt.set(n.id, this.time + this.prng.range(1, 15) * UNITS_PER_TICK);
      this.log(`${n.id} crashes right after becoming leader (${crashPoint})`);
    }
    if (
      crashPoint === undefined &&
      n.role === Role.Leader &&
      rd.hardState !== undefined &&
      rd.hardState.commit > n.commit &&
      this.prng.chance(n.committedAsLeader ? this.opts.crashAfterCommitRate : this.opts.crashAfterFirstCommitRate)
    ) {
      // The leader learns it committed, persists that, and dies before telling anyone (Figure 8's last step).
      crashPoint = 'after-persist';
      this.counters.crashesAfterCommit++;
      this.restartAt.set(n.id, this.time + this.prng.range(1, 15) * UNITS_PER_TICK);
      this.log(`${n.id} crashes right after advancing its commit to ${rd.hardState.commit}`);
    }
    if (crashPoint === undefined && n.role === Role.Leader && rd.entries.length > 0 && this.prng.chance(this.opts.crashAfterAppendRate)) {
      // New entries reach some followers; the leader's own copy may or may not be on its disk.
      crashPoint = this.prng.chance(0.5) ? 'leader-sent-unpersisted' : 'after-send';
      this.restartAt.set(n.id, this.time + this.prng.range(1, 30) * UNITS_PER_TICK);
    }
    if (n.role === Role.Leader && rd.hardState !== undefined && rd.hardState.commit > n.commit) n.committedAsLeader = true;
    if (crashPoint === 'leader-sent-unpersisted' && n.role === Role.Leader) {
      for (const m of rd.messages) {
        if (m.type === MessageType.App || m.type === MessageType.Heartbeat) this.network.send(m, this.time);
      }
      this.crash(n, `armed crash: leader sent its appends${rd.entries.length > 0 ? ` (${describeEntries(rd.entries)})` : ''} but persisted nothing`);
      return;
    }
    if (crashPoint === 'before-persist' || crashPoint === 'leader-sent-unpersisted') {
      this.crash(n, 'armed crash: Ready produced but not persisted');
      return;
    }

    // 1. Persist: snapshot, entries, hard state.
    if (rd.snapshot !== undefined) {
      this.check(this.checker.onSnapshot(n.id, rd.snapshot.meta));
      n.storage.applySnapshot(rd.snapshot);
    }
    if (rd.entries.length > 0) this.persistEntries(n, raft, rd);
    if (rd.hardState !== undefined) {
      const hs = rd.hardState;
      if (hs.term < n.term) this.fail('monotonic-term', n.id, `${n.id} persisted term ${hs.term} after term ${n.term}`);
      if (hs.commit < n.commit) {
        this.fail('monotonic-commit', n.id, `${n.id} commit went from ${n.commit} to ${hs.commit} (incarnation ${n.incarnation})`);
      }
      this.check(this.checker.onCommit(n.id, n.commit, hs.commit, (i) => raft.termAt(i)));
      if (n.role === Role.Leader && hs.commit > n.commit) {
        const t = raft.termAt(hs.commit);
        if (t !== hs.term) {
          this.fail(
            'leader-commit-rule',
            n.id,
            `leader ${n.id} of term ${hs.term} advanced its commit from ${n.commit} to ${hs.commit}, an entry of term ${t}`,
          );
        }
      }
      n.commit = hs.commit;
      n.term = hs.term;
      n.storage.setHardState(hs);
      n.persisted = { ...hs };
    }
    if (rd.entries.length > 0 || rd.hardState !== undefined || rd.snapshot !== undefined) {
      let line = `${n.id} persist`;
      if (rd.snapshot !== undefined) line += ` snapshot index=${rd.snapshot.meta.index} term=${rd.snapshot.meta.term}`;
      if (rd.entries.length > 0) line += ` entries ${describeEntries(rd.entries)}`;
      if (rd.hardState !== undefined) line += ` hs{${describeHardState(rd.hardState)}}`;
      this.log(line);
    }
    if (crashPoint === 'after-persist') {
      this.crash(n, 'armed crash: persisted a Ready, sent none of its messages');
      return;
    }

    // 2. Send.
    let crashAfterSend = crashPoint === 'after-send';
    for (const m of rd.messages) {
      this.checkPersistedBeforeSend(n, m);
      this.network.send(m, this.time);
      if (this.opts.traceAll) this.log(`send ${describeMessage(m)}`);
      if (!crashAfterSend && m.type === MessageType.VoteResp && !m.reject && this.prng.chance(this.opts.crashAfterVoteRate)) {
        // A voter that reboots at once must still remember its vote when the next candidate asks.
        crashAfterSend = true;
        this.counters.crashesAfterVote++;
        if (this.prng.chance(0.6)) this.deferred.push(() => this.restart(n));
        else this.restartAt.set(n.id, this.time + this.prng.int(3 * UNITS_PER_TICK));
      }
    }
    if (crashAfterSend) {
      this.crash(n, crashPoint === 'after-send' ? 'armed crash: sent a Ready, applied nothing' : 'crash right after sending');
      return;
    }

    // 3. Apply: snapshot, then committed entries; then deliver read states.
    if (rd.snapshot !== undefined) {
      const meta = rd.snapshot.meta;
      n.sm = KvStateMachine.restore(rd.snapshot.data);
      if (n.sm.applied !== meta.index) throw new Error(`sim: snapshot at ${meta.index} holds state applied to ${n.sm.applied}`);
      n.confState = { voters: [...meta.confState.voters], learners: [...meta.confState.learners] };
      n.snapshotIndex = meta.index;
      this.counters.snapshotsInstalled++;
      this.log(`${n.id} installs snapshot index=${meta.index} term=${meta.term} conf=${describeConf(meta.confState)}`);
      if (meta.index > this.latestConf.index) this.setLatestConf(meta.index, n.confState);
    }
    if (rd.committedEntries.length > 0) {
      for (const e of rd.committedEntries) this.applyEntry(n, raft, e);
      this.log(`${n.id} apply ${describeEntries(rd.committedEntries)}`);
      this.hooks?.onAppliedUpTo(n.id);
    }
    for (const rs of rd.readStates) this.hooks?.onReadState(n.id, rs);

    // 4. Advance.
    raft.advance(rd);

    if (n.sm.applied - n.snapshotIndex >= this.opts.snapshotEvery) {
      this.takeSnapshot(n, this.prng.int(this.opts.compactKeepMax + 1));
    }
  }

  /** "Followers must persist before they acknowledge": a vote or an append ack promises durable state. */
  private checkPersistedBeforeSend(n: SimNode, m: Message): void {
    if (m.type === MessageType.VoteResp && !m.reject) {
      const hs = n.persisted;
      if (hs.term !== m.term || hs.vote !== m.to) {
        this.fail(
          'durability',
          n.id,
          `${n.id} granted its term-${m.term} vote to ${m.to} but has persisted term=${hs.term} vote=${hs.vote === '' ? '(none)' : hs.vote}`,
        );
      }
    } else if (m.type === MessageType.AppResp && !m.reject && m.index > n.storage.lastIndex()) {
      this.fail('durability', n.id, `${n.id} acknowledged entries up to ${m.index} but has persisted only up to ${n.storage.lastIndex()}`);
    }
  }

  private onSoftState(n: SimNode, raft: RaftNode, rd: Ready): void {
    const soft = rd.softState!;
    const was = n.role;
    n.role = soft.role;
    n.leaderHint = soft.leader;
    if (soft.role === Role.Leader && was !== Role.Leader) {
      n.committedAsLeader = false;
      const term = raft.status().term;
      n.term = Math.max(n.term, term);
      this.log(`${n.id} becomes leader term=${term} log=${raft.lastIndex()}`);
      this.check(this.checker.onLeader(n.id, term));
      this.check(this.checker.checkLeaderCompleteness(n.id, term, n.storage.firstIndex() - 1, (i) => raft.termAt(i)));
      this.hooks?.onLeader(n.id, term);
    } else if (soft.role !== was) {
      this.log(`${n.id} becomes ${soft.role}${soft.leader !== '' ? ` (leader ${soft.leader})` : ''}`);
    }
  }

  private persistEntries(n: SimNode, raft: RaftNode, rd: Ready): void {
    const first = rd.entries[0];
    const last = rd.entries[rd.entries.length - 1];
    this.check(this.checker.onEntries(n.id, rd.entries, raft.termAt(first.index - 1)));
    // Anything the node still holds past the new entries must also agree (a stale suffix that was not truncated).
    const lastIndex = raft.lastIndex();
    if (lastIndex > last.index) {
      this.check(this.checker.onEntries(n.id, raft.entriesFrom(last.index + 1, lastIndex + 1), last.term));
    }
    n.storage.append(rd.entries);
  }

  private applyEntry(n: SimNode, raft: RaftNode, e: import('@bramble/raft').Entry): void {
    this.check(this.checker.onApply(n.id, e, n.sm.applied));
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      n.confState = raft.applyConfChange(cc);
      n.sm.applied = e.index;
      if (e.index > this.latestConf.index) {
        this.counters.confChangesApplied++;
        this.log(`conf change committed at ${e.index}: ${cc.type} ${cc.nodeId} -> ${describeConf(n.confState)}`);
        this.setLatestConf(e.index, n.confState);
      }
      return;
    }
    if (e.data.length === 0) {
      n.sm.applied = e.index; // a leader's no-op
      return;
    }
    const cmd = decodeCommand(e.data);
    const result = n.sm.apply(e.index, cmd);
    this.check(this.checker.onOpApplied(n.id, cmd.id, e.index));
    this.hooks?.onApplied(n.id, cmd, result);
  }

  private setLatestConf(index: number, conf: ConfState): void {
    const previous = this.latestConf.conf;
    this.latestConf = { index, conf };
    this.hooks?.onLatestConf(previous, conf);
  }

  // ------------------------------------------------------------ snapshots and checks

  /** Snapshot `n`'s state machine at its applied index and compact its log, keeping up to `keep` entries. */
  takeSnapshot(n: SimNode, keep: number): boolean {
    const applied = n.sm.applied;
    if (n.status !== 'up' || applied <= n.storage.snapshot().meta.index) return false;
    const data = n.sm.serialize();
    this.check(this.checker.onSnapshotCreated(n.id, applied, data));
    n.storage.createSnapshot(applied, n.confState, data);
    n.snapshotIndex = applied;
    const compactTo = applied - keep;
    const compacted = n.storage.firstIndex() - 1;
    if (compactTo > compacted) n.storage.compact(compactTo);
    this.counters.snapshotsTaken++;
    this.log(`${n.id} snapshot at ${applied}, log now ${n.storage.firstIndex()}..${n.storage.lastIndex()}`);
    return true;
  }

  /** Check the tail (up to `maxEntries`) of `n`'s whole current log against everything seen so far. */
  checkLog(n: SimNode, maxEntries: number): void {
    const raft = n.raft;
    if (raft === undefined) return;
    const last = raft.lastIndex();
    const lo = Math.max(n.storage.firstIndex(), last - maxEntries + 1, 1);
    if (lo > last) return;
    let entries;
    try {
      entries = raft.entriesFrom(lo, last + 1);
    } catch (err) {
      if (err instanceof CompactedError) return;
      throw err;
    }
    if (entries.length !== last + 1 - lo) {
      this.fail('log-matching', n.id, `${n.id}: entriesFrom(${lo}, ${last + 1}) returned ${entries.length} entries`);
    }
    this.check(this.checker.onEntries(n.id, entries, raft.termAt(lo - 1)));
  }

  describeNodes(): string {
    return this.nodeList
      .map((n) => {
        if (n.raft === undefined) return `${n.id}:${n.status}`;
        return `${n.id}:${n.role}/t${n.term}/c${n.commit}/a${n.sm.applied}/l${n.raft.lastIndex()}`;
      })
      .join(' ');
  }

  describeEntryAt(n: SimNode, index: number): string {
    const e = n.raft?.entriesFrom(index, index + 1)[0];
    return e === undefined ? '(none)' : describeEntry(e);
  }
}

/** One committed `addNode` per initial voter, identical on every initial member. */
export function bootstrapEntries(voters: readonly NodeId[]): Entry[] {
  return [...voters].sort().map((nodeId, i) => ({ term: 1, index: i + 1, type: EntryType.ConfChange, data: encodeConfChange({ type: 'addNode', nodeId }) }));
}
