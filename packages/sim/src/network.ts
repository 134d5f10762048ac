import type { Entry, Message, NodeId, Snapshot } from '@bramble/raft';
import type { Prng } from './prng.js';

/** How unreliable the simulated network is. Times are in simulator time units (see sim.ts: 1 tick = 10 units). */
export interface NetworkOptions {
  /** Probability that a sent message is silently lost. */
  dropRate: number;
  /** Probability that a sent message is delivered twice (at two independent times). */
  duplicateRate: number;
  /** Ordinary delivery delay is uniform in [minDelay, maxDelay]. */
  minDelay: number;
  maxDelay: number;
  /** Probability that a message is held back much longer (a stale, reordered message). */
  longDelayRate: number;
  /** Long delays are uniform in (maxDelay, longDelayMax]. */
  longDelayMax: number;
  /** Message types that are never duplicated (e.g. forwarded proposals, which a real transport sends at most once). */
  neverDuplicate?: ReadonlySet<string>;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  /** Lost because a partition or a cut link separated sender and receiver at send or delivery time. */
  blocked: number;
}

export interface Envelope {
  at: number;
  seq: number;
  msg: Message;
}

/**
 * An in-memory network: a priority queue of in-flight messages ordered by
 * delivery time. Independent random delays reorder messages; messages can also
 * be dropped or duplicated. Symmetric partitions split nodes into groups that
 * cannot talk; one-way cuts block a single direction. Every message is deep
 * copied on send, so no node can ever share (and mutate) another's arrays.
 */
export class Network {
  private readonly heap: Envelope[] = [];
  private seq = 0;
  /** Node -> partition group. Empty map: no partition. */
  private groups = new Map<NodeId, number>();
  private readonly cuts = new Set<string>();
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, blocked: 0 };
  /** Called for every message lost on the way: silently dropped, or blocked by a partition or cut link (which a transport would notice). */
  onLost: ((m: Message, reason: 'dropped' | 'blocked') => void) | undefined;

  constructor(
    private readonly prng: Prng,
    private opts: NetworkOptions,
  ) {}

  setOptions(opts: NetworkOptions): void {
    this.opts = opts;
  }

  options(): NetworkOptions {
    return this.opts;
  }

  /** Queue a copy of `m` (maybe none, maybe two) for delivery after `now`. Returns how many copies were queued. */
  send(m: Message, now: number): number {
    this.stats.sent++;
    if (!this.linkUp(m.from, m.to)) {
      this.stats.blocked++;
      this.onLost?.(m, 'blocked');
      return 0;
    }
    if (this.opts.dropRate > 0 && this.prng.chance(this.opts.dropRate)) {
      this.stats.dropped++;
      this.onLost?.(m, 'dropped');
      return 0;
    }
    this.push(now + this.delay(), copyMessage(m));
    if (
      this.opts.duplicateRate > 0 &&
      !(this.opts.neverDuplicate?.has(m.type) ?? false) &&
      this.prng.chance(this.opts.duplicateRate)
    ) {
      this.stats.duplicated++;
      this.push(now + this.delay(), copyMessage(m));
      return 2;
    }
    return 1;
  }

  /** Delivery time of the earliest queued message, or undefined when nothing is in flight. */
  nextDeliveryTime(): number | undefined {
    return this.heap.length > 0 ? this.heap[0].at : undefined;
  }

  inFlight(): number {
    return this.heap.length;
  }

  /**
   * Remove and return the earliest message due at or before `now` whose link is
   * up at delivery time; messages whose link is down are discarded on the way.
   */
  popDue(now: number): Envelope | undefined {
    while (this.heap.length > 0 && this.heap[0].at <= now) {
      const env = this.pop();
      if (!this.linkUp(env.msg.from, env.msg.to)) {
        this.stats.blocked++;
        this.onLost?.(env.msg, 'blocked');
        continue;
      }
      this.stats.delivered++;
      return env;
    }
    return undefined;
  }

  /** Split nodes into groups that cannot reach each other. Nodes listed in no group join the first group. */
  partition(groups: NodeId[][]): void {
    this.groups = new Map();
    groups.forEach((g, i) => {
      for (const id of g) this.groups.set(id, i);
    });
  }

  /** Block messages from `from` to `to` (the other direction is unaffected). */
  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(linkKey(from, to));
  }

  restore(from: NodeId, to: NodeId): void {
    this.cuts.delete(linkKey(from, to));
  }

  healPartition(): void {
    this.groups = new Map();
  }

  /** Remove every partition and cut. Messages already in flight keep their delivery times. */
  heal(): void {
    this.groups = new Map();
    this.cuts.clear();
  }

  isPartitioned(): boolean {
    return this.groups.size > 0;
  }

  cutCount(): number {
    return this.cuts.size;
  }

  linkUp(from: NodeId, to: NodeId): boolean {
    if (from === to) return true;
    if (this.cuts.size > 0 && this.cuts.has(linkKey(from, to))) return false;
    if (this.groups.size > 0 && (this.groups.get(from) ?? 0) !== (this.groups.get(to) ?? 0)) return false;
    return true;
  }

  private delay(): number {
    const o = this.opts;
    if (o.longDelayRate > 0 && this.prng.chance(o.longDelayRate)) {
      return o.maxDelay + 1 + this.prng.int(Math.max(1, o.longDelayMax - o.maxDelay));
    }
    return o.minDelay + this.prng.int(o.maxDelay - o.minDelay + 1);
  }

  private push(at: number, msg: Message): void {
    const env: Envelope = { at, seq: this.seq++, msg };
    const h = this.heap;
    h.push(env);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i], h[parent])) break;
      const tmp = h[i];
      h[i] = h[parent];
      h[parent] = tmp;
      i = parent;
    }
  }

  private pop(): Envelope {
    const h = this.heap;
    const top = h[0];
    const last = h.pop() as Envelope;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        const tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
      }
    }
    return top;
  }
}

function before(a: Envelope, b: Envelope): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}

function copyEntry(e: Entry): Entry {
  return { term: e.term, index: e.index, type: e.type, data: e.data.slice() };
}

function copySnapshot(s: Snapshot): Snapshot {
  return {
    meta: {
      index: s.meta.index,
      term: s.meta.term,
      confState: { voters: [...s.meta.confState.voters], learners: [...s.meta.confState.learners] },
    },
    data: s.data.slice(),
  };
}

/** A deep copy: nothing in the result shares memory with `m`. */
export function copyMessage(m: Message): Message {
  const out: Message = {
    type: m.type,
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.length === 0 ? [] : m.entries.map(copyEntry),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
  };
  if (m.snapshot !== undefined) out.snapshot = copySnapshot(m.snapshot);
  if (m.context !== undefined) out.context = m.context.slice();
  if (m.transferee !== undefined) out.transferee = m.transferee;
  return out;
}
