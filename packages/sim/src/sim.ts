import {
  ConfChangeRefusedError,
  ProposalDroppedError,
  RaftNode,
  Role,
  type ConfChange,
  type ConfState,
  type NodeId,
  type RaftConfig,
} from '@bramble/raft';
import { HistoryRecorder, checkOperations, formatViolation, kvModel, type KvInput, type KvOutput } from '@bramble/linearizability';
import type { Violation } from './checker.js';
import { Clients, type ClientStats } from './clients.js';
import { Cluster, UNITS_PER_TICK, ViolationFound, type CrashPoint, type NodeFactory, type RaftOptions, type SimNode } from './cluster.js';
import { describeConf } from './describe.js';
import type { NetworkOptions } from './network.js';
import { Prng } from './prng.js';
import { encodeCommand } from './state-machine.js';

export interface SeedOptions {
  seed: number;
  /** Initial voters: m1..m3 or m1..m5. */
  nodes: 3 | 5;
  /** Scheduler steps (each one action: advance time one tick, a client op, a fault, ...). */
  steps: number;
  /** Keep every trace line (including heartbeats and sends) and return them. */
  trace?: boolean;
  /** Builds each node; tests pass deliberately broken RaftNode subclasses. */
  nodeFactory?: NodeFactory;
  /** Budget of the linearizability check (default 5000 ms). */
  linearizabilityTimeoutMs?: number;
  /**
   * Add learners even before every voter has compacted index 1 away. A joiner that
   * replays the log from index 1 never learns the bootstrap configuration (it lives
   * only in the index-0 snapshot), so this reproduces a known hazard; off by default.
   */
}

/** How often each thing happened during one seed. */
export interface SeedStats {
  ticks: number;
  /** Ticks at whose end some running node believed it was leader. */
  ticksWithLeader: number;
  crashes: number;
  restarts: number;
  powerFailures: number;
  crashesAfterVote: number;
  crashesAfterElection: number;
  crashesAfterCommit: number;
  stops: number;
  partitions: number;
  cuts: number;
  heals: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  confChangesProposed: number;
  confChangesRefused: number;
  confChangesApplied: number;
  learnersAdded: number;
  promotions: number;
  removals: number;
  transfers: number;
  transfersCompleted: number;
  messagesSent: number;
  messagesDelivered: number;
  messagesDropped: number;
  messagesDuplicated: number;
  messagesBlocked: number;
}

export interface SeedResult {
  seed: number;
  nodes: 3 | 5;
  /** Steps actually run (fewer than asked when a violation stopped the seed). */
  steps: number;
  violations: Violation[];
  /** Distinct (term, leader) pairs. */
  elections: number;
  /** Highest index known committed. */
  commits: number;
  linearizable: 'ok' | 'illegal' | 'unknown';
  /** The checker's explanation when not 'ok'. */
  linearizabilityReport?: string;
  ops: ClientStats;
  stats: SeedStats;
  /** After the final heal-and-settle phase, every member had applied everything and a leader was known. */
  settled: boolean;
  /** The last ~200 trace lines when there is a violation; every line with `trace: true`. */
  trace?: string[];
}

/** Per-seed randomised knobs, drawn from the seed's PRNG. */
interface Scenario {
  network: NetworkOptions;
  raft: RaftOptions;
  clients: number;
  keys: number;
  writeTimeoutTicks: number;
  snapshotEvery: number;
  compactKeepMax: number;
  crashAfterVoteRate: number;
  crashAfterAppendRate: number;
  crashAfterElectionRate: number;
  crashAfterCommitRate: number;
  crashAfterFirstCommitRate: number;
  tickSkew: number;
  /** Action weights, in ACTIONS order. */
  weights: number[];
}

const ACTIONS = [
  'tick',
  'client',
  'crash',
  'restart',
  'partition',
  'heal',
  'cut',
  'membership',
  'transfer',
  'snapshot',
  'powerFailure',
  'storm',
  'load',
  'campaign',
] as const;
type Action = (typeof ACTIONS)[number];

const BASE_WEIGHTS: Record<Action, number> = {
  tick: 56,
  client: 26,
  crash: 1.0,
  restart: 0.6,
  partition: 0.7,
  heal: 0.5,
  cut: 0.7,
  membership: 2.2,
  transfer: 0.9,
  snapshot: 1.5,
  powerFailure: 0.08,
  storm: 0.25,
  load: 3,
  campaign: 0.6,
};

const MAX_VOTERS = 7;
const MAX_LEARNERS = 2;
const SETTLE_TICKS = 400;
const TRACE_TAIL_LINES = 200;

function drawScenario(prng: Prng): Scenario {
  const lossy = prng.chance(0.7);
  const network: NetworkOptions = {
    dropRate: lossy ? prng.pick([0.01, 0.03, 0.06]) : 0,
    duplicateRate: prng.pick([0, 0.01, 0.04]),
    minDelay: 1,
    maxDelay: prng.pick([6, 12, 20]),
    longDelayRate: prng.pick([0, 0.005, 0.02]),
    longDelayMax: prng.pick([60, 200, 400]),
    // A real transport forwards a proposal at most once; a duplicate would apply a client's op twice.
    neverDuplicate: new Set(['MsgProp']),
  };
  const raft: RaftOptions = {
    electionTicks: 10,
    heartbeatTicks: 1,
    preVote: prng.chance(0.8),
    checkQuorum: prng.chance(0.9),
    // Tiny messages (one entry each) make leaders re-send old-term entries one at a time (Figure 8).
    maxSizePerMsgBytes: prng.pick([1, 1, 200, 4096, 1024 * 1024]),
    maxInflightMsgs: prng.pick([1, 4, 64, 256]),
  };
  const weights = ACTIONS.map((a) => BASE_WEIGHTS[a] * (a === 'tick' || a === 'client' ? 1 : 0.5 + prng.next()));
  return {
    network,
    raft,
    clients: prng.range(3, 5),
    keys: prng.range(3, 5),
    writeTimeoutTicks: prng.pick([20, 40]),
    snapshotEvery: prng.pick([12, 25, 50, 100]),
    compactKeepMax: prng.pick([0, 5, 20]),
    crashAfterVoteRate: prng.pick([0, 0.05, 0.2]),
    crashAfterAppendRate: prng.pick([0, 0.005, 0.015]),
    crashAfterElectionRate: prng.pick([0, 0.05, 0.15]),
    crashAfterCommitRate: prng.pick([0, 0.002, 0.005]),
    crashAfterFirstCommitRate: prng.pick([0, 0.1, 0.25]),
    tickSkew: prng.pick([1, 1, 3]),
    weights,
  };
}

interface Timer {
  at: number;
  what: string;
  run: () => void;
}

/** One seed's run: the cluster, the clients, the fault scheduler. */
class Simulation {
  readonly prng: Prng;
  readonly scenario: Scenario;
  readonly cluster: Cluster;
  readonly clients: Clients;
  readonly recorder: HistoryRecorder<KvInput, KvOutput>;
  readonly stats: SeedStats;
  private timers: Timer[] = [];
  private nextNodeNumber: number;
  /** Members that were removed and await being stopped. */
  private readonly decommissioning = new Set<NodeId>();
  private readonly pendingTransfers: Array<{ to: NodeId; fromTerm: number; until: number }> = [];
  private recordTime = -1;
  private recordSub = 0;
  /** Background write ids count down from -1 (client op ids are positive). */
  private loadOps = 0;
  private stormUntil = 0;
  /** Set by settle(): the cluster converged after the final heal. */
  private settled = false;

  constructor(private readonly opts: SeedOptions) {
    this.prng = new Prng(opts.seed);
    this.scenario = drawScenario(this.prng);
    const voters: NodeId[] = [];
    for (let i = 1; i <= opts.nodes; i++) voters.push(`m${i}`);
    this.nextNodeNumber = opts.nodes + 1;
    const conf: ConfState = { voters, learners: [] };
    this.cluster = new Cluster(
      {
        prng: this.prng,
        network: this.scenario.network,
        raft: this.scenario.raft,
        nodeFactory: opts.nodeFactory ?? ((cfg: RaftConfig) => new RaftNode(cfg)),
        traceAll: opts.trace === true,
        snapshotEvery: this.scenario.snapshotEvery,
        compactKeepMax: this.scenario.compactKeepMax,
        crashAfterVoteRate: this.scenario.crashAfterVoteRate,
        crashAfterAppendRate: this.scenario.crashAfterAppendRate,
        crashAfterElectionRate: this.scenario.crashAfterElectionRate,
        crashAfterCommitRate: this.scenario.crashAfterCommitRate,
        crashAfterFirstCommitRate: this.scenario.crashAfterFirstCommitRate,
        tickSkew: this.scenario.tickSkew,
      },
      conf,
    );
    // Strictly increasing history timestamps that follow the simulator's causal order.
    this.recorder = new HistoryRecorder<KvInput, KvOutput>(() => {
      const t = this.cluster.time;
      if (t !== this.recordTime) {
        this.recordTime = t;
        this.recordSub = 0;
      }
      this.recordSub++;
      return t + this.recordSub / 10_000;
    });
    const cluster = this.cluster;
    this.clients = new Clients(
      {
        now: () => cluster.time,
        chooseNode: () => this.chooseNode(),
        isUp: (id) => cluster.get(id)?.isUp() ?? false,
        incarnation: (id) => cluster.get(id)?.incarnation ?? 0,
        propose: (id, data) => {
          const n = this.upNode(id);
          n.raft!.propose(data);
          cluster.processReady(n);
        },
        readIndex: (id, context) => {
          const n = this.upNode(id);
          n.raft!.readIndex(context);
          cluster.processReady(n);
        },
        read: (id, key) => this.upNode(id).sm.get(key),
        applied: (id) => this.upNode(id).sm.applied,
        committedIndex: () => cluster.checker.committedMax(),
        fail: (detail, node) => cluster.fail('stale-read', node, detail),
        trace: (line) => cluster.log(line),
      },
      this.prng,
      this.recorder,
      {
        clients: this.scenario.clients,
        keys: this.scenario.keys,
        writeTimeout: this.scenario.writeTimeoutTicks * UNITS_PER_TICK,
        readTimeout: 15 * UNITS_PER_TICK,
      },
    );
    this.cluster.hooks = {
      onApplied: (node, cmd, result) => this.clients.onApplied(node, cmd, result),
      onAppliedUpTo: (node) => this.clients.onAppliedUpTo(node),
      onReadState: (node, rs) => this.clients.onReadState(node, rs),
      onNodeDown: (node) => this.clients.onNodeDown(node),
      onLeader: (node, term) => this.onLeader(node, term),
      onLatestConf: (previous, next) => this.onLatestConf(previous, next),
    };
    this.stats = {
      ticks: 0,
      ticksWithLeader: 0,
      crashes: 0,
      restarts: 0,
      powerFailures: 0,
      crashesAfterVote: 0,
      crashesAfterElection: 0,
      crashesAfterCommit: 0,
      stops: 0,
      partitions: 0,
      cuts: 0,
      heals: 0,
      snapshotsTaken: 0,
      snapshotsInstalled: 0,
      confChangesProposed: 0,
      confChangesRefused: 0,
      confChangesApplied: 0,
      learnersAdded: 0,
      promotions: 0,
      removals: 0,
      transfers: 0,
      transfersCompleted: 0,
      messagesSent: 0,
      messagesDelivered: 0,
      messagesDropped: 0,
      messagesDuplicated: 0,
      messagesBlocked: 0,
    };
  }

  private upNode(id: NodeId): SimNode {
    const n = this.cluster.get(id);
    if (n === undefined || n.raft === undefined) throw new Error(`sim: client used node ${id}, which is not running`);
    return n;
  }

  run(): SeedResult {
    const c = this.cluster;
    const s = this.scenario;
    c.log(
      `seed=${this.opts.seed} nodes=${this.opts.nodes} clients=${s.clients} keys=${s.keys} preVote=${s.raft.preVote} checkQuorum=${s.raft.checkQuorum} ` +
        `maxMsgBytes=${s.raft.maxSizePerMsgBytes} inflight=${s.raft.maxInflightMsgs} drop=${s.network.dropRate} dup=${s.network.duplicateRate} ` +
        `delay=${s.network.minDelay}..${s.network.maxDelay} long=${s.network.longDelayRate}/${s.network.longDelayMax} snapshotEvery=${s.snapshotEvery}`,
    );
    const violations: Violation[] = [];
    let steps = 0;
    try {
      for (const id of c.latestConf.conf.voters) c.addNode(id, c.latestConf.conf);
      for (let step = 1; step <= this.opts.steps; step++) {
        c.step = step;
        steps = step;
        this.runAction(ACTIONS[this.prng.weighted(s.weights)]);
        if (this.prng.chance(0.03)) {
          const up = c.up();
          if (up.length > 0) c.checkLog(this.prng.pick(up), 200);
        }
      }
      c.step = this.opts.steps + 1;
      this.settle();
      this.clients.abandonAll();
    } catch (err) {
      violations.push(this.toViolation(err));
    }

    let linearizable: SeedResult['linearizable'] = 'unknown';
    let linearizabilityReport: string | undefined;
    if (violations.length === 0) {
      const check = checkOperations(kvModel, this.recorder.operations(), { timeoutMs: this.opts.linearizabilityTimeoutMs ?? 5000 });
      linearizable = check.result;
      if (check.result !== 'ok') linearizabilityReport = formatViolation(check, kvModel);
      if (check.result === 'illegal') {
        violations.push({ kind: 'linearizability', step: c.step, time: c.time, detail: linearizabilityReport ?? 'not linearizable' });
      }
    }
    this.collectStats();
    const result: SeedResult = {
      seed: this.opts.seed,
      nodes: this.opts.nodes,
      steps,
      violations,
      elections: c.checker.elections(),
      commits: c.checker.committedMax(),
      linearizable,
      ops: { ...this.clients.stats },
      stats: this.stats,
      settled: this.settled,
    };
    if (linearizabilityReport !== undefined) result.linearizabilityReport = linearizabilityReport;
    if (this.opts.trace === true) result.trace = c.trace.all();
    else if (violations.length > 0) result.trace = c.trace.tail(TRACE_TAIL_LINES);
    return result;
  }

  private toViolation(err: unknown): Violation {
    const c = this.cluster;
    if (err instanceof ViolationFound) {
      c.log(`VIOLATION ${err.violation.kind}: ${err.violation.detail}`);
      c.log(`nodes: ${c.describeNodes()}`);
      return err.violation;
    }
    const e = err instanceof Error ? err : new Error(String(err));
    const where = (e.stack ?? '').split('\n').slice(1, 5).map((l) => l.trim()).join(' | ');
    const detail = `${e.name}: ${e.message} (at ${where})`;
    c.log(`VIOLATION core-error: ${detail}`);
    c.log(`nodes: ${c.describeNodes()}`);
    return { kind: 'core-error', step: c.step, time: c.time, detail };
  }

  private collectStats(): void {
    const k = this.cluster.counters;
    const n = this.cluster.network.stats;
    Object.assign(this.stats, {
      crashes: k.crashes,
      restarts: k.restarts,
      crashesAfterVote: k.crashesAfterVote,
      crashesAfterElection: k.crashesAfterElection,
      crashesAfterCommit: k.crashesAfterCommit,
      stops: k.stops,
      snapshotsTaken: k.snapshotsTaken,
      snapshotsInstalled: k.snapshotsInstalled,
      confChangesApplied: k.confChangesApplied,
      messagesSent: n.sent,
      messagesDelivered: n.delivered,
      messagesDropped: n.dropped,
      messagesDuplicated: n.duplicated,
      messagesBlocked: n.blocked,
    });
  }

  // ------------------------------------------------------------ actions

  private runAction(action: Action): void {
    switch (action) {
      case 'tick':
        return this.tick();
      case 'client':
        if (!this.clients.issue()) this.tick();
        return;
      case 'crash':
        return this.crash();
      case 'restart':
        return this.restartOne();
      case 'partition':
        return this.partition();
      case 'heal':
        return this.heal();
      case 'cut':
        return this.cut();
      case 'membership':
        return this.membership();
      case 'transfer':
        return this.transfer();
      case 'snapshot':
        return this.snapshot();
      case 'powerFailure':
        return this.powerFailure();
      case 'storm':
        return this.storm();
      case 'load':
        return this.load();
      case 'campaign':
        return this.campaign(this.prng.range(1, 2));
    }
  }

  /** Advance time by one tick; then fire due timers and client deadlines. */
  private tick(): void {
    const c = this.cluster;
    c.advance(UNITS_PER_TICK);
    this.stats.ticks++;
    if (c.leader() !== undefined) this.stats.ticksWithLeader++;
    for (const [id, at] of [...c.restartAt]) {
      if (at <= c.time) {
        const n = c.get(id);
        c.restartAt.delete(id);
        if (n !== undefined && n.status === 'down') c.restart(n);
      }
    }
    if (this.timers.length > 0) {
      const due = this.timers.filter((t) => t.at <= c.time);
      if (due.length > 0) {
        this.timers = this.timers.filter((t) => t.at > c.time);
        for (const t of due) t.run();
      }
    }
    this.clients.checkDeadlines();
  }

  private after(ticks: number, what: string, run: () => void): void {
    this.timers.push({ at: this.cluster.time + ticks * UNITS_PER_TICK, what, run });
  }

  private voters(): NodeId[] {
    return this.cluster.latestConf.conf.voters;
  }

  /** Would crashing `n` leave a majority of voters running? */
  private quorumSurvives(n: SimNode): boolean {
    const voters = this.voters();
    if (!voters.includes(n.id)) return true;
    let up = 0;
    for (const id of voters) if (id !== n.id && this.cluster.get(id)?.isUp()) up++;
    return up >= Math.floor(voters.length / 2) + 1;
  }

  private crash(): void {
    const c = this.cluster;
    const up = c.up();
    if (up.length === 0) return this.tick();
    const leader = c.leader();
    let target = leader !== undefined && this.prng.chance(0.4) ? leader : this.prng.pick(up);
    // Mostly keep a majority running; sometimes (rarely) do not.
    if (!this.quorumSurvives(target) && !this.prng.chance(0.1)) {
      const safe = up.filter((n) => this.quorumSurvives(n));
      if (safe.length === 0) return this.tick();
      target = this.prng.pick(safe);
    }
    const r = this.prng.next();
    const delayTicks = r < 0.3 ? this.prng.range(0, 3) : r < 0.9 ? this.prng.range(5, 40) : this.prng.range(40, 100);
    c.restartAt.set(target.id, c.time + delayTicks * UNITS_PER_TICK);
    if (target === leader && this.prng.chance(0.3)) {
      // Two followers notice at once: concurrent candidates in one term.
      this.after(this.prng.range(0, 2), 'campaign', () => this.campaign(2));
    }
    if (this.prng.chance(0.5)) {
      c.crash(target, `scheduled, restart in ${delayTicks} ticks`);
    } else {
      const point: CrashPoint =
        target.role === Role.Leader && this.prng.chance(0.4)
          ? 'leader-sent-unpersisted'
          : this.prng.pick(['before-persist', 'after-persist', 'after-send'] as const);
      target.armedCrash = point;
      c.log(`arm crash of ${target.id} at its next Ready (${point}), restart ${delayTicks} ticks later`);
    }
  }

  private powerFailure(): void {
    const c = this.cluster;
    const up = c.up();
    if (up.length === 0) return this.tick();
    this.stats.powerFailures++;
    c.log('power failure: every running node crashes');
    // Often everyone comes back at the same moment: elections from a cold start, candidates racing.
    const together = this.prng.chance(0.5) ? this.prng.range(1, 20) : undefined;
    for (const n of up) {
      c.crash(n, 'power failure');
      c.restartAt.set(n.id, c.time + (together ?? this.prng.range(1, 20)) * UNITS_PER_TICK);
    }
  }

  private restartOne(): void {
    const down = this.cluster.all().filter((n) => n.status === 'down');
    if (down.length === 0) return this.tick();
    this.cluster.restart(this.prng.pick(down));
  }

  private running(): NodeId[] {
    return this.cluster
      .all()
      .filter((n) => n.status !== 'stopped')
      .map((n) => n.id);
  }

  private partition(): void {
    const c = this.cluster;
    if (c.network.isPartitioned()) return this.heal();
    const ids = this.prng.shuffle(this.running());
    if (ids.length < 2) return this.tick();
    let groups: NodeId[][];
    const leader = c.leader();
    const r = this.prng.next();
    if (leader !== undefined && r < 0.45) {
      // Isolate the leader, alone or with one follower (clients sticking to it keep reading and writing there).
      const minority = [leader.id];
      if (ids.length >= 5 && this.prng.chance(0.5)) minority.push(this.prng.pick(ids.filter((id) => id !== leader.id)));
      groups = [minority, ids.filter((id) => !minority.includes(id))];
    } else if (r < 0.85 || ids.length < 3) {
      const cutAt = this.prng.range(1, ids.length - 1);
      groups = [ids.slice(0, cutAt), ids.slice(cutAt)];
    } else {
      const a = this.prng.range(1, ids.length - 2);
      const b = this.prng.range(a + 1, ids.length - 1);
      groups = [ids.slice(0, a), ids.slice(a, b), ids.slice(b)];
    }
    groups = groups.map((g) => [...g].sort());
    c.network.partition(groups);
    this.stats.partitions++;
    const ticks = this.prng.range(10, 60);
    c.log(`partition ${groups.map((g) => `{${g.join(',')}}`).join(' | ')} for ${ticks} ticks`);
    this.after(ticks, 'heal partition', () => {
      if (c.network.isPartitioned()) {
        c.network.healPartition();
        c.log('partition healed');
      }
    });
  }

  private heal(): void {
    const c = this.cluster;
    if (!c.network.isPartitioned() && c.network.cutCount() === 0) return this.tick();
    c.network.heal();
    this.stats.heals++;
    c.log('heal: all partitions and cut links restored');
  }

  private cut(): void {
    const c = this.cluster;
    const ids = this.running();
    if (ids.length < 2 || c.network.cutCount() >= 3) return this.tick();
    const [from, to] = this.prng.shuffle(ids);
    c.network.cut(from, to);
    this.stats.cuts++;
    const ticks = this.prng.range(5, 60);
    c.log(`cut ${from}->${to} (one way) for ${ticks} ticks`);
    this.after(ticks, `restore ${from}->${to}`, () => c.network.restore(from, to));
  }

  /** A burst of message loss for a while (one at a time; afterwards the seed's own rates return). */
  private storm(): void {
    const c = this.cluster;
    if (this.stormUntil > c.time) return this.tick();
    const dropRate = this.prng.pick([0.2, 0.4]);
    const ticks = this.prng.range(5, 30);
    this.stormUntil = c.time + ticks * UNITS_PER_TICK;
    c.network.setOptions({ ...this.scenario.network, dropRate });
    c.log(`storm: drop rate ${dropRate} for ${ticks} ticks`);
    this.after(ticks, 'storm ends', () => {
      c.network.setOptions(this.scenario.network);
      c.log('storm over');
    });
  }

  /** Background writes (not part of the checked history: key "bg"), so leaders often hold uncommitted tails. */
  private load(): void {
    const c = this.cluster;
    const up = c.up();
    if (up.length === 0) return this.tick();
    const leader = c.leader();
    const n = leader !== undefined && this.prng.chance(0.7) ? leader : this.prng.pick(up);
    const count = this.prng.range(1, 4);
    try {
      for (let i = 0; i < count; i++) {
        const id = -++this.loadOps;
        n.raft!.propose(encodeCommand({ id, op: 'put', key: 'bg', value: `bg${-id}` }));
      }
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
    c.processReady(n);
  }

  /** Operator-style `campaign()` on `count` running voters at the same instant. */
  private campaign(count: number): void {
    const c = this.cluster;
    const voters = this.voters().filter((id) => c.get(id)?.isUp());
    if (voters.length === 0) return this.tick();
    const chosen = this.prng.shuffle(voters).slice(0, count);
    c.log(`campaign now: ${chosen.join(', ')}`);
    for (const id of chosen) {
      const n = c.get(id);
      if (n?.raft === undefined) continue;
      n.raft.campaign();
      c.processReady(n);
    }
  }

  private snapshot(): void {
    const up = this.cluster.up();
    if (up.length === 0) return this.tick();
    // Compact everything: laggards will need InstallSnapshot.
    if (!this.cluster.takeSnapshot(this.prng.pick(up), 0)) this.tick();
  }

  private transfer(): void {
    const c = this.cluster;
    const leader = c.leader();
    if (leader === undefined) return this.tick();
    const others = this.voters().filter((id) => id !== leader.id);
    if (others.length === 0) return this.tick();
    const to = this.prng.pick(others);
    this.stats.transfers++;
    c.log(`transfer leadership ${leader.id} -> ${to} (term ${leader.term})`);
    this.pendingTransfers.push({ to, fromTerm: leader.term, until: c.time + 30 * UNITS_PER_TICK });
    leader.raft!.transferLeader(to);
    c.processReady(leader);
  }

  private onLeader(node: NodeId, term: number): void {
    const now = this.cluster.time;
    for (let i = this.pendingTransfers.length - 1; i >= 0; i--) {
      const t = this.pendingTransfers[i];
      if (t.until < now) this.pendingTransfers.splice(i, 1);
      else if (t.to === node && term > t.fromTerm) {
        this.stats.transfersCompleted++;
        this.pendingTransfers.splice(i, 1);
      }
    }
  }

  private onLatestConf(previous: ConfState, next: ConfState): void {
    const members = new Set([...next.voters, ...next.learners]);
    for (const gone of [...previous.voters, ...previous.learners]) {
      if (members.has(gone) || this.decommissioning.has(gone)) continue;
      this.decommissioning.add(gone);
      const ticks = this.prng.range(10, 150);
      this.cluster.log(`${gone} was removed; it keeps running for ${ticks} ticks`);
      this.after(ticks, `stop ${gone}`, () => {
        const n = this.cluster.get(gone);
        if (n !== undefined) this.cluster.stop(n, 'removed from the cluster');
      });
    }
  }

  private membership(): void {
    const c = this.cluster;
    const leader = c.leader();
    if (leader === undefined) return this.tick();
    const conf = leader.raft!.status().confState;
    const options: Array<'add' | 'promote' | 'remove'> = [];
    if (conf.learners.length < MAX_LEARNERS && conf.voters.length + conf.learners.length < MAX_VOTERS + 1) options.push('add');
    if (conf.learners.length > 0 && conf.voters.length < MAX_VOTERS) options.push('promote');
    if (conf.voters.length > 3 || conf.learners.length > 0) options.push('remove');
    if (options.length === 0) return this.tick();
    const kind = this.prng.pick(options);
    let cc: ConfChange;
    let joiner: NodeId | undefined;
    if (kind === 'add') {
      joiner = `m${this.nextNodeNumber++}`;
      cc = { type: 'addLearner', nodeId: joiner };
    } else if (kind === 'promote') {
      cc = { type: 'addNode', nodeId: this.prng.pick(conf.learners) };
    } else {
      const candidates = conf.voters.length > 3 ? [...conf.voters, ...conf.learners] : conf.learners;
      const victim = conf.voters.length > 3 && this.prng.chance(0.3) ? leader.id : this.prng.pick(candidates);
      cc = { type: 'removeNode', nodeId: victim };
    }
    this.stats.confChangesProposed++;
    try {
      leader.raft!.proposeConfChange(cc);
    } catch (err) {
      if (!(err instanceof ConfChangeRefusedError) && !(err instanceof ProposalDroppedError)) throw err;
      this.stats.confChangesRefused++;
      c.log(`conf change ${cc.type} ${cc.nodeId} refused by ${leader.id}: ${err.message}`);
      return;
    }
    c.log(`propose conf change on ${leader.id}: ${cc.type} ${cc.nodeId} (conf ${describeConf(conf)})`);
    if (kind === 'add') this.stats.learnersAdded++;
    else if (kind === 'promote') this.stats.promotions++;
    else this.stats.removals++;
    if (joiner !== undefined) {
      // The new node starts empty and learns the configuration from the snapshot the leader sends.
      // If the addLearner never commits it just idles (it is in no configuration, so it never campaigns).
      c.addNode(joiner, { voters: [], learners: [] });
    }
    c.processReady(leader);
  }

  // ------------------------------------------------------------ clients

  private chooseNode(): NodeId | undefined {
    const up = this.cluster.up();
    if (up.length === 0) return undefined;
    const asked = this.prng.pick(up);
    // Half the time follow the asked node's leader hint (possibly stale), like a real client.
    if (this.prng.chance(0.5) && asked.leaderHint !== '' && this.cluster.get(asked.leaderHint)?.isUp()) return asked.leaderHint;
    return asked.id;
  }

  // ------------------------------------------------------------ end of run

  /** Heal everything, restart every crashed member, stop removed ones, and let the cluster converge. */
  private settle(): void {
    const c = this.cluster;
    c.log('settle: heal the network, restart every node, stop issuing operations');
    this.timers = [];
    c.network.heal();
    c.network.setOptions({ ...this.scenario.network, dropRate: 0, duplicateRate: 0, longDelayRate: 0 });
    for (const id of this.decommissioning) {
      const n = c.get(id);
      if (n !== undefined) c.stop(n, 'removed from the cluster');
    }
    for (const n of c.all()) {
      n.armedCrash = undefined;
      if (n.status === 'down') c.restart(n);
    }
    for (let i = 0; i < SETTLE_TICKS; i++) {
      this.tick();
      if (i % 10 === 9 && this.isSettled()) {
        this.settled = true;
        break;
      }
    }
    if (this.settled) this.checkConvergence();
    c.log(`settled=${this.settled} nodes: ${c.describeNodes()}`);
  }

  private isSettled(): boolean {
    const c = this.cluster;
    const leader = c.leader();
    if (leader === undefined || this.clients.pendingCount() > 0) return false;
    const commit = leader.commit;
    for (const id of [...c.latestConf.conf.voters, ...c.latestConf.conf.learners]) {
      const n = c.get(id);
      if (n === undefined || !n.isUp() || n.sm.applied !== commit) return false;
    }
    return true;
  }

  /** Once converged, every member's state machine must be identical. */
  private checkConvergence(): void {
    const c = this.cluster;
    for (const id of [...c.latestConf.conf.voters, ...c.latestConf.conf.learners]) {
      const n = c.get(id);
      if (n === undefined || n.raft === undefined) continue;
      const v = c.checker.onSnapshotCreated(n.id, n.sm.applied, n.sm.serialize());
      if (v !== undefined) throw new ViolationFound(v);
    }
  }
}

/** Run one seed. A pure function of its options (no wall clock, no ambient randomness). */
export function runSeed(opts: SeedOptions): SeedResult {
  return new Simulation(opts).run();
}

export interface RunSeedsOptions {
  /** How many seeds. */
  seeds: number;
  /** First seed (default 1). */
  start?: number;
  /** Cluster size; omitted = odd seeds run 3 nodes, even seeds 5. */
  nodes?: 3 | 5;
  steps: number;
  nodeFactory?: NodeFactory;
  stopOnFirstViolation?: boolean;
  trace?: boolean;
  /** Called after each seed (e.g. to print progress). */
  onResult?: (r: SeedResult) => void;
}

export interface RunSeedsSummary {
  seeds: number;
  steps: number;
  /** Seeds with at least one violation. */
  violations: number;
  elections: number;
  commits: number;
  /** Seeds whose history checked 'ok' / 'illegal' / 'unknown' (unknown: checker out of time, or the seed stopped early). */
  linearizable: number;
  notLinearizable: number;
  linearizabilityUnknown: number;
  /** Seeds without a violation whose cluster did not converge after the final heal (a liveness problem). */
  unsettled: number;
  failed: SeedResult[];
  results: SeedResult[];
}

export function runSeeds(opts: RunSeedsOptions): RunSeedsSummary {
  const start = opts.start ?? 1;
  const summary: RunSeedsSummary = {
    seeds: 0,
    steps: 0,
    violations: 0,
    elections: 0,
    commits: 0,
    linearizable: 0,
    notLinearizable: 0,
    linearizabilityUnknown: 0,
    unsettled: 0,
    failed: [],
    results: [],
  };
  for (let seed = start; seed < start + opts.seeds; seed++) {
    const nodes = opts.nodes ?? (seed % 2 === 1 ? 3 : 5);
    const r = runSeed({ seed, nodes, steps: opts.steps, trace: opts.trace, nodeFactory: opts.nodeFactory });
    summary.seeds++;
    summary.steps += r.steps;
    summary.elections += r.elections;
    summary.commits += r.commits;
    if (r.linearizable === 'ok') summary.linearizable++;
    else if (r.linearizable === 'illegal') summary.notLinearizable++;
    else summary.linearizabilityUnknown++;
    if (!r.settled && r.violations.length === 0) summary.unsettled++;
    summary.results.push(r);
    if (r.violations.length > 0) {
      summary.violations++;
      summary.failed.push(r);
    }
    opts.onResult?.(r);
    if (r.violations.length > 0 && opts.stopOnFirstViolation === true) break;
  }
  return summary;
}

export const DEFAULT_STEPS = 2000;
