import { Buffer } from 'node:buffer';
import { EntryType, type Entry, type NodeId, type SnapshotMeta } from '@bramble/raft';

export type ViolationKind =
  /** Two leaders in one term. */
  | 'election-safety'
  /** Two logs hold different entries at the same (index, term), or entries that break the log's shape. */
  | 'log-matching'
  /** A new leader's log lacks an entry already known committed. */
  | 'leader-completeness'
  /** Two nodes applied different entries (or produced different snapshots) at the same index, or one applied out of order. */
  | 'state-machine-safety'
  /** Two nodes reported different terms for a committed index. */
  | 'committed-entry-conflict'
  /** A node's commit index went backwards within an incarnation, or below what it had persisted. */
  | 'monotonic-commit'
  /** A node's persisted term went backwards. */
  | 'monotonic-term'
  /** One client proposal was applied at two different log indexes. */
  | 'duplicate-apply'
  /** A leader advanced its commit index to an entry of an earlier term (Raft §5.4.2, Figure 8: only current-term entries are committed by counting replicas). */
  | 'leader-commit-rule'
  /** A node answered a peer (granted a vote, acknowledged entries) before persisting what the answer promises. */
  | 'durability'
  /** A confirmed read index was below an index already known committed when the read was invoked. */
  | 'stale-read'
  /** The core threw (e.g. RaftInvariantError) where it should not have. */
  | 'core-error'
  /** The client history is not linearizable (found by the checker at the end of the run). */
  | 'linearizability';

export interface Violation {
  kind: ViolationKind;
  step: number;
  /** Simulator time units (1 tick = 10). */
  time: number;
  node?: NodeId;
  detail: string;
}

interface LogRecord {
  /** Entry type and payload, as one comparable string. */
  body: string;
  /** Term of the entry just before it, or -1 when the reporting node had compacted it away. */
  prevTerm: number;
  node: NodeId;
}

interface AppliedRecord {
  term: number;
  body: string;
  node: NodeId;
}

const TERM_SPACE = 1 << 22;

/** Comparable identity of an entry's payload. */
export function entryBody(e: Entry): string {
  return `${e.type}:${Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString('latin1')}`;
}

function describeBody(body: string): string {
  const text = body.length > 80 ? `${body.slice(0, 80)}...` : body;
  return JSON.stringify(text);
}

/**
 * Incremental Raft safety checks (Raft paper, Figure 3). Each hook is called by
 * the simulator as events happen and costs O(new information); the first
 * broken property is returned as a Violation and the run stops.
 */
export class SafetyChecker {
  /** Election safety: term -> the one leader it may have. */
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** Log matching: (index, term) -> what every log holding that pair must hold. */
  private readonly logRecords = new Map<number, LogRecord>();
  /** Known committed: index -> term (sparse array). */
  private readonly committedTerm: number[] = [];
  private committedMaxIndex = 0;
  /** State machine safety: index -> the entry applied there. */
  private readonly appliedAt: AppliedRecord[] = [];
  /** Snapshot data produced at an index by any node must be identical. */
  private readonly snapshotAt = new Map<number, { body: string; node: NodeId }>();
  /** Client op id -> index where it was applied. */
  private readonly opIndex = new Map<number, number>();
  private readonly leaders: Array<{ term: number; node: NodeId }> = [];

  constructor(private readonly where: () => { step: number; time: number }) {}

  elections(): number {
    return this.leaders.length;
  }

  committedMax(): number {
    return this.committedMaxIndex;
  }

  private violation(kind: ViolationKind, node: NodeId | undefined, detail: string): Violation {
    const { step, time } = this.where();
    return node === undefined ? { kind, step, time, detail } : { kind, step, time, node, detail };
  }

  /** Election safety: `node` just became leader of `term`. */
  onLeader(node: NodeId, term: number): Violation | undefined {
    const prior = this.leaderOfTerm.get(term);
    if (prior !== undefined && prior !== node) {
      return this.violation('election-safety', node, `${node} became leader of term ${term}, which already had leader ${prior}`);
    }
    if (prior === undefined) {
      this.leaderOfTerm.set(term, node);
      this.leaders.push({ term, node });
    }
    return undefined;
  }

  /**
   * Log matching: `entries` are now in `node`'s log, directly after an entry of
   * term `prevTerm` (undefined when the node no longer knows it).
   */
  onEntries(node: NodeId, entries: readonly Entry[], prevTerm: number | undefined): Violation | undefined {
    let prev = prevTerm ?? -1;
    let prevIndex = entries.length > 0 ? entries[0].index - 1 : 0;
    for (const e of entries) {
      if (e.index !== prevIndex + 1) {
        return this.violation('log-matching', node, `${node}: entry ${e.index} follows entry ${prevIndex} (log has a gap or is out of order)`);
      }
      if (prev >= 0 && e.term < prev) {
        return this.violation('log-matching', node, `${node}: entry ${e.index} has term ${e.term}, lower than the previous entry's term ${prev}`);
      }
      if (e.term >= TERM_SPACE) throw new Error(`sim checker: term ${e.term} too large for its key space`);
      const key = e.index * TERM_SPACE + e.term;
      const body = entryBody(e);
      const rec = this.logRecords.get(key);
      if (rec === undefined) {
        this.logRecords.set(key, { body, prevTerm: prev, node });
      } else {
        if (rec.body !== body) {
          return this.violation(
            'log-matching',
            node,
            `${node} holds entry (index=${e.index}, term=${e.term}) = ${describeBody(body)} but ${rec.node} held ${describeBody(rec.body)}`,
          );
        }
        if (rec.prevTerm >= 0 && prev >= 0 && rec.prevTerm !== prev) {
          return this.violation(
            'log-matching',
            node,
            `${node} holds (index=${e.index}, term=${e.term}) after an entry of term ${prev}, but ${rec.node} held it after term ${rec.prevTerm}`,
          );
        }
        if (rec.prevTerm < 0 && prev >= 0) rec.prevTerm = prev;
      }
      prev = e.term;
      prevIndex = e.index;
    }
    return undefined;
  }

  /**
   * `node`'s commit index moved from `from` to `to`; `termAt` reads its log.
   * Every index in (from, to] is committed: record its term, or check it against
   * what another node already committed there.
   */
  onCommit(node: NodeId, from: number, to: number, termAt: (i: number) => number | undefined): Violation | undefined {
    for (let i = from + 1; i <= to; i++) {
      const t = termAt(i);
      if (t === undefined) continue; // compacted: covered by a snapshot, checked when the snapshot was made
      const known = this.committedTerm[i];
      if (known === undefined) {
        this.committedTerm[i] = t;
        if (i > this.committedMaxIndex) this.committedMaxIndex = i;
      } else if (known !== t) {
        return this.violation(
          'committed-entry-conflict',
          node,
          `${node} committed index ${i} with term ${t}, but index ${i} was already committed with term ${known}`,
        );
      }
    }
    return undefined;
  }

  /** A snapshot's last entry is committed. */
  onSnapshot(node: NodeId, meta: SnapshotMeta): Violation | undefined {
    if (meta.index === 0) return undefined;
    const known = this.committedTerm[meta.index];
    if (known === undefined) {
      this.committedTerm[meta.index] = meta.term;
      if (meta.index > this.committedMaxIndex) this.committedMaxIndex = meta.index;
    } else if (known !== meta.term) {
      return this.violation(
        'committed-entry-conflict',
        node,
        `${node} restored a snapshot at index ${meta.index} term ${meta.term}, but index ${meta.index} was committed with term ${known}`,
      );
    }
    const applied = this.appliedAt[meta.index];
    if (applied !== undefined && applied.term !== meta.term) {
      return this.violation(
        'state-machine-safety',
        node,
        `${node} restored a snapshot at index ${meta.index} term ${meta.term}, but ${applied.node} applied term ${applied.term} there`,
      );
    }
    return undefined;
  }

  /**
   * Leader completeness: a new leader's log holds every entry known committed.
   * Entries at or below `snapshotIndex` are covered by the leader's snapshot.
   */
  checkLeaderCompleteness(
    node: NodeId,
    term: number,
    snapshotIndex: number,
    termAt: (i: number) => number | undefined,
  ): Violation | undefined {
    for (let i = Math.max(1, snapshotIndex + 1); i <= this.committedMaxIndex; i++) {
      const want = this.committedTerm[i];
      if (want === undefined) continue;
      const have = termAt(i);
      if (have !== want) {
        return this.violation(
          'leader-completeness',
          node,
          `${node} became leader of term ${term} but its log has ${have === undefined ? 'no entry' : `term ${have}`} at committed index ${i} (committed term ${want})`,
        );
      }
    }
    return undefined;
  }

  /** State machine safety: `node` applies `e` (having applied everything up to `appliedBefore`). */
  onApply(node: NodeId, e: Entry, appliedBefore: number): Violation | undefined {
    if (e.index !== appliedBefore + 1) {
      return this.violation(
        'state-machine-safety',
        node,
        `${node} applied entry ${e.index} right after ${appliedBefore} (entries must be applied in order, without gaps)`,
      );
    }
    const body = entryBody(e);
    const rec = this.appliedAt[e.index];
    if (rec === undefined) {
      this.appliedAt[e.index] = { term: e.term, body, node };
    } else if (rec.term !== e.term || rec.body !== body) {
      return this.violation(
        'state-machine-safety',
        node,
        `${node} applied (index=${e.index}, term=${e.term}) ${describeBody(body)} but ${rec.node} applied (term=${rec.term}) ${describeBody(rec.body)}`,
      );
    }
    const known = this.committedTerm[e.index];
    if (known === undefined) {
      this.committedTerm[e.index] = e.term;
      if (e.index > this.committedMaxIndex) this.committedMaxIndex = e.index;
    } else if (known !== e.term) {
      return this.violation(
        'committed-entry-conflict',
        node,
        `${node} applied index ${e.index} with term ${e.term}, but index ${e.index} was committed with term ${known}`,
      );
    }
    return undefined;
  }

  /** A client op (by id) was applied at `index`; it may only ever be applied at one index. */
  onOpApplied(node: NodeId, opId: number, index: number): Violation | undefined {
    const at = this.opIndex.get(opId);
    if (at === undefined) {
      this.opIndex.set(opId, index);
    } else if (at !== index) {
      return this.violation('duplicate-apply', node, `${node} applied op ${opId} at index ${index}, but it was already applied at index ${at}`);
    }
    return undefined;
  }

  /** Snapshots taken at the same index by different nodes must hold the same state. */
  onSnapshotCreated(node: NodeId, index: number, data: Uint8Array): Violation | undefined {
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
    const rec = this.snapshotAt.get(index);
    if (rec === undefined) {
      this.snapshotAt.set(index, { body, node });
    } else if (rec.body !== body) {
      return this.violation(
        'state-machine-safety',
        node,
        `${node}'s state at index ${index} is ${describeBody(body)} but ${rec.node}'s was ${describeBody(rec.body)}`,
      );
    }
    return undefined;
  }

  /** Leaders seen so far, in order. */
  leaderHistory(): ReadonlyArray<{ term: number; node: NodeId }> {
    return this.leaders;
  }
}

export function isNoop(e: Entry): boolean {
  return e.type === EntryType.Normal && e.data.length === 0;
}
