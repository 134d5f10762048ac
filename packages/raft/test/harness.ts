// A synchronous in-memory cluster for unit tests: immediate, in-order delivery
// unless a link is cut (or a message matches `drop`). Every node keeps its
// MemoryStorage across crash/restart.
//
// Also: helpers to drive one RaftNode by hand (crafted messages, crafted logs),
// for tests that check a single rule of the paper.
import {
  EntryType,
  MemoryStorage,
  MessageType,
  RaftNode,
  Role,
  decodeConfChange,
  encodeConfChange,
  seededRandom,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type RaftConfig,
  type ReadState,
  type Ready,
  type Snapshot,
} from '../src/index.js';

export type NodeFactory = (cfg: RaftConfig) => RaftNode;

/** RaftConfig fields a test may tune beyond the cluster-wide options. */
export type RaftTuning = Partial<Omit<RaftConfig, 'id' | 'storage' | 'random' | 'applied'>>;

export interface ClusterOptions {
  electionTicks?: number;
  heartbeatTicks?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  factory?: NodeFactory;
  learners?: NodeId[];
  /** Extra RaftConfig for every node (window sizes, message size...). */
  raft?: RaftTuning;
  /** Prebuilt storages (e.g. crafted logs); nodes not listed start from the initial configuration. */
  storages?: Record<NodeId, MemoryStorage>;
  /** Node ids whose storage is prepared but which start crashed (restart them later). */
  down?: NodeId[];
  /**
   * How the initial configuration is recorded. 'confState' (default): only in each storage's
   * initial ConfState, which is never replicated, so a node that joins later learns it only from a
   * snapshot. 'log': also as committed ConfChange entries 1..n of term 1, as masters bootstrap
   * (packages/master bootstrapEntries, like etcd), so a joiner learns it by replication.
   */
  bootstrap?: 'confState' | 'log';
}

/** The entries every initial member writes identically when bootstrapping with `bootstrap: 'log'`. */
export function bootstrapEntries(conf: ConfState): Entry[] {
  const changes: ConfChange[] = [
    ...[...conf.voters].sort().map((nodeId): ConfChange => ({ type: 'addNode', nodeId })),
    ...[...conf.learners].sort().map((nodeId): ConfChange => ({ type: 'addLearner', nodeId })),
  ];
  return changes.map((cc, i) => ({ term: 1, index: i + 1, type: EntryType.ConfChange, data: encodeConfChange(cc) }));
}

export interface TestNode {
  id: NodeId;
  raft: RaftNode;
  storage: MemoryStorage;
  applied: Entry[];
  /** Snapshots this incarnation applied (installed from the leader). */
  snapshots: Snapshot[];
  readStates: ReadState[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const bytes = (s: string) => encoder.encode(s);
export const text = (b: Uint8Array) => decoder.decode(b);

export class Cluster {
  nodes = new Map<NodeId, TestNode>();
  /** Links that drop everything: "from->to". */
  cut = new Set<string>();
  /** Messages for which this returns true are lost (in addition to cut links). */
  drop: ((m: Message) => boolean) | undefined;
  /** Every message delivered, for assertions. */
  delivered: Message[] = [];
  /** Storages of crashed nodes, kept so `restart` can find them. */
  crashed = new Map<NodeId, MemoryStorage>();
  private seed = 1;

  constructor(
    ids: NodeId[],
    readonly opts: ClusterOptions = {},
  ) {
    const conf: ConfState = { voters: ids, learners: opts.learners ?? [] };
    for (const id of [...ids, ...(opts.learners ?? [])]) {
      let storage = opts.storages?.[id];
      if (!storage) {
        storage = new MemoryStorage(conf);
        if (opts.bootstrap === 'log') {
          const entries = bootstrapEntries(conf);
          storage.append(entries);
          storage.setHardState({ term: 1, vote: '', commit: entries.length });
        }
      }
      if (opts.down?.includes(id)) {
        this.seed++;
        this.crashed.set(id, storage);
      } else {
        this.start(id, storage);
      }
    }
  }

  start(id: NodeId, storage: MemoryStorage): TestNode {
    const cfg: RaftConfig = {
      ...this.opts.raft,
      id,
      storage,
      random: seededRandom(this.seed++ * 7919),
      electionTicks: this.opts.electionTicks ?? 10,
      heartbeatTicks: this.opts.heartbeatTicks ?? 1,
      preVote: this.opts.preVote ?? true,
      checkQuorum: this.opts.checkQuorum ?? true,
      applied: storage.snapshot().meta.index,
    };
    const raft = (this.opts.factory ?? ((c) => new RaftNode(c)))(cfg);
    const node: TestNode = { id, raft, storage, applied: [], snapshots: [], readStates: [] };
    this.nodes.set(id, node);
    this.crashed.delete(id);
    return node;
  }

  /** Add a brand-new empty node (to be added by a conf change). See `bootstrap` for how it learns the initial voters. */
  addEmpty(id: NodeId): TestNode {
    return this.start(id, new MemoryStorage({ voters: [], learners: [] }));
  }

  crash(id: NodeId): MemoryStorage {
    const node = this.get(id);
    this.nodes.delete(id);
    this.crashed.set(id, node.storage);
    return node.storage;
  }

  /** Start `id` again from its persisted storage (the one it crashed with unless given). */
  restart(id: NodeId, storage?: MemoryStorage): TestNode {
    const s = storage ?? this.crashed.get(id);
    if (!s) throw new Error(`no storage for ${id}`);
    return this.start(id, s);
  }

  get(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  isolate(id: NodeId): void {
    for (const other of this.knownIds()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  partition(...groups: NodeId[][]): void {
    for (const a of groups) for (const b of groups) {
      if (a === b) continue;
      for (const x of a) for (const y of b) this.cut.add(`${x}->${y}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  allIds(): NodeId[] {
    return [...this.nodes.keys()];
  }

  /** Running and crashed nodes. */
  private knownIds(): NodeId[] {
    return [...new Set([...this.nodes.keys(), ...this.crashed.keys()])];
  }

  /** Process every node's Ready and deliver messages until nothing is left (bounded). */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let progressed = false;
      for (const node of [...this.nodes.values()]) {
        if (!this.nodes.has(node.id) || !node.raft.hasReady()) continue;
        progressed = true;
        const rd = node.raft.ready();
        if (rd.snapshot) {
          node.storage.applySnapshot(rd.snapshot);
          node.snapshots.push(rd.snapshot);
        }
        node.storage.append(rd.entries);
        if (rd.hardState) node.storage.setHardState(rd.hardState);
        for (const m of rd.messages) {
          assertDurableBeforeSend(node.storage, m);
          this.deliver(m);
        }
        for (const e of rd.committedEntries) {
          if (e.type === EntryType.ConfChange) node.raft.applyConfChange(decodeConfChange(e.data));
          node.applied.push(e);
        }
        node.readStates.push(...rd.readStates);
        node.raft.advance(rd);
      }
      if (!progressed) return;
    }
    throw new Error('cluster did not stabilize');
  }

  private deliver(m: Message): void {
    if (this.cut.has(`${m.from}->${m.to}`)) return;
    if (this.drop?.(m)) return;
    const to = this.nodes.get(m.to);
    if (!to) return;
    this.delivered.push(m);
    to.raft.step(m);
  }

  tick(ids: NodeId[] = this.allIds(), times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of ids) this.nodes.get(id)?.raft.tick();
      this.stabilize();
    }
  }

  /** Tick until some node is leader (bounded); returns it. */
  electLeader(maxTicks = 200): TestNode {
    for (let i = 0; i < maxTicks; i++) {
      const leader = this.leader();
      if (leader) return leader;
      this.tick();
    }
    throw new Error('no leader elected');
  }

  leader(): TestNode | undefined {
    const leaders = [...this.nodes.values()].filter((n) => n.raft.status().role === Role.Leader);
    // Among several (a stale one in a minority), the one with the highest term.
    leaders.sort((a, b) => b.raft.status().term - a.raft.status().term);
    return leaders[0];
  }

  appliedData(id: NodeId): string[] {
    return this.get(id).applied.filter((e) => e.type === EntryType.Normal && e.data.length > 0).map((e) => text(e.data));
  }

  /** `id`'s whole log (from its first index), as "index@term" strings. */
  log(id: NodeId): string[] {
    const r = this.get(id).raft;
    return r.entriesFrom(r.firstIndex(), r.lastIndex() + 1).map((e) => `${e.index}@${e.term}`);
  }

  /** Delivered messages matching `pred`. */
  count(pred: (m: Message) => boolean): number {
    return this.delivered.filter(pred).length;
  }
}

/**
 * The contract hosts rely on (DESIGN.md, Raft): what a message promises is durable
 * once the Ready that carries it has been persisted. The harness persists first,
 * then checks every outgoing message against the storage.
 */
export function assertDurableBeforeSend(storage: MemoryStorage, m: Message): void {
  const hs = storage.hardStateNow();
  const pre = m.type === MessageType.PreVote || m.type === MessageType.PreVoteResp;
  if (m.term !== 0 && !pre && m.term !== hs.term) {
    throw new Error(`${m.from} sent ${m.type} in term ${m.term} but persisted term ${hs.term}`);
  }
  if (m.type === MessageType.VoteResp && !m.reject && hs.vote !== m.to) {
    throw new Error(`${m.from} granted its vote to ${m.to} but persisted vote '${hs.vote}'`);
  }
  if (m.type === MessageType.AppResp && !m.reject && m.index > storage.lastIndex()) {
    throw new Error(`${m.from} acknowledged index ${m.index} but persisted only up to ${storage.lastIndex()}`);
  }
}

// ---------------------------------------------------------------- one node by hand

/** A message with every field a type does not use at its default. */
export function msg(m: Partial<Message> & Pick<Message, 'type' | 'from' | 'to'>): Message {
  return { term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...m };
}

/** An entry whose data names its position, so entries equal by (index, term) are equal (Log Matching). */
export function entry(index: number, term: number, type: EntryType = EntryType.Normal): Entry {
  return { index, term, type, data: bytes(`${index}@${term}`) };
}

/** Entries 1..n with the given terms. */
export function entriesWithTerms(terms: number[]): Entry[] {
  return terms.map((t, i) => entry(i + 1, t));
}

/** A storage holding a log with `terms` (entry i+1 has term terms[i]) and the given hard state. */
export function storageWithLog(voters: NodeId[], terms: number[], hs: Partial<HardState> = {}, learners: NodeId[] = []): MemoryStorage {
  const s = new MemoryStorage({ voters, learners });
  s.append(entriesWithTerms(terms));
  s.setHardState({ term: Math.max(0, ...terms), vote: '', commit: 0, ...hs });
  return s;
}

/** One RaftNode over `storage`; randomness fixed at 0, so its election timeout is exactly `electionTicks`. */
export function newRaft(id: NodeId, storage: MemoryStorage, tuning: RaftTuning & { random?: () => number; applied?: number } = {}): RaftNode {
  return new RaftNode({ electionTicks: 10, heartbeatTicks: 1, random: () => 0, ...tuning, id, storage });
}

/** Take a Ready, persist it into `storage` (checking the durability contract), apply conf changes, advance. */
export function persist(raft: RaftNode, storage: MemoryStorage): Ready {
  const rd = raft.ready();
  if (rd.snapshot) storage.applySnapshot(rd.snapshot);
  storage.append(rd.entries);
  if (rd.hardState) storage.setHardState(rd.hardState);
  for (const m of rd.messages) assertDurableBeforeSend(storage, m);
  for (const e of rd.committedEntries) if (e.type === EntryType.ConfChange) raft.applyConfChange(decodeConfChange(e.data));
  raft.advance(rd);
  return rd;
}

/** Messages of `type` in a Ready. */
export function ofType(rd: Ready, type: MessageType): Message[] {
  return rd.messages.filter((m) => m.type === type);
}

/** "index@term" of each entry. */
export function ids(entries: Entry[]): string[] {
  return entries.map((e) => `${e.index}@${e.term}`);
}

/**
 * Make `raft` (a fresh node, preVote off) the leader of `term` by campaigning and
 * stepping granted votes from `voters`. Persists the Ready of the campaign and of
 * the victory; returns the victory's Ready (its App messages carry the no-op).
 */
export function makeLeader(raft: RaftNode, storage: MemoryStorage, voters: NodeId[]): Ready {
  raft.campaign();
  persist(raft, storage);
  const term = raft.status().term;
  for (const v of voters) raft.step(msg({ type: MessageType.VoteResp, from: v, to: raft.id, term }));
  return persist(raft, storage);
}
