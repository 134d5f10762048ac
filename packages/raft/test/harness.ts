// A synchronous in-memory cluster for unit tests: immediate, in-order delivery
// unless a link is cut. Every node keeps its MemoryStorage across crash/restart.
import {
  EntryType,
  MemoryStorage,
  RaftNode,
  Role,
  decodeConfChange,
  seededRandom,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type RaftConfig,
  type ReadState,
} from '../src/index.js';

export type NodeFactory = (cfg: RaftConfig) => RaftNode;

export interface TestNode {
  id: NodeId;
  raft: RaftNode;
  storage: MemoryStorage;
  applied: Entry[];
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
  /** Every message delivered, for assertions. */
  delivered: Message[] = [];
  private seed = 1;

  constructor(
    ids: NodeId[],
    readonly opts: { electionTicks?: number; heartbeatTicks?: number; preVote?: boolean; checkQuorum?: boolean; factory?: NodeFactory; learners?: NodeId[] } = {},
  ) {
    const conf: ConfState = { voters: ids, learners: opts.learners ?? [] };
    for (const id of [...ids, ...(opts.learners ?? [])]) this.start(id, new MemoryStorage(conf));
  }

  start(id: NodeId, storage: MemoryStorage): TestNode {
    const cfg: RaftConfig = {
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
    const node: TestNode = { id, raft, storage, applied: [], readStates: [] };
    this.nodes.set(id, node);
    return node;
  }

  /** Add a brand-new empty node (to be added by a conf change). */
  addEmpty(id: NodeId): TestNode {
    return this.start(id, new MemoryStorage({ voters: [], learners: [] }));
  }

  crash(id: NodeId): MemoryStorage {
    const node = this.get(id);
    this.nodes.delete(id);
    return node.storage;
  }

  restart(id: NodeId, storage: MemoryStorage): TestNode {
    return this.start(id, storage);
  }

  get(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  isolate(id: NodeId): void {
    for (const other of this.allIds()) {
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

  /** Process every node's Ready and deliver messages until nothing is left (bounded). */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let progressed = false;
      for (const node of [...this.nodes.values()]) {
        if (!this.nodes.has(node.id) || !node.raft.hasReady()) continue;
        progressed = true;
        const rd = node.raft.ready();
        if (rd.snapshot) node.storage.applySnapshot(rd.snapshot);
        node.storage.append(rd.entries);
        if (rd.hardState) node.storage.setHardState(rd.hardState);
        for (const m of rd.messages) this.deliver(m);
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
}
