// Deliberately broken Raft cores. They exist only in test code, to show that the
// simulator's checks catch each classic mistake (see teeth.test.ts).
import {
  RaftLog,
  RaftNode,
  committedIndex,
  type Entry,
  type HardState,
  type Message,
  type RaftConfig,
  type Storage,
} from '@bramble/raft';

const EMPTY = new Uint8Array(0);

/** Commits any entry a majority holds, even one from an earlier term (violates Figure 8's rule). */
export class CommitsPreviousTermByCounting extends RaftNode {
  protected override maybeCommit(): boolean {
    const index = committedIndex(this.voters, (id) => this.prs.get(id)?.match ?? 0);
    if (index <= this.raftLog.committed) return false;
    this.raftLog.commitTo(index);
    return true;
  }
}

/** Grants votes to other candidates without persisting them: a restart forgets the vote. */
export class VotesWithoutPersisting extends RaftNode {
  protected override hardStateForReady(): HardState {
    const hs = super.hardStateForReady();
    return hs.vote === this.id ? hs : { ...hs, vote: '' };
  }
}

/** A log that overwrites entries in place on a conflict but keeps the stale suffix after them. */
class NonTruncatingLog extends RaftLog {
  protected override truncateAndAppend(entries: Entry[]): void {
    const from = entries[0].index;
    const last = this.lastIndex();
    if (from > last || from < this.firstIndex()) {
      super.truncateAndAppend(entries);
      return;
    }
    const merged = this.slice(from, last + 1);
    entries.forEach((e, i) => (merged[i] = e));
    super.truncateAndAppend(merged);
  }
}

export class KeepsConflictingSuffix extends RaftNode {
  protected override createLog(storage: Storage, maxCommittedBytesPerReady: number): RaftLog {
    return new NonTruncatingLog(storage, maxCommittedBytesPerReady);
  }
}

/** Answers reads from its own commit index at once, without confirming leadership (no ReadIndex). */
export class ReadsWithoutReadIndex extends RaftNode {
  protected override handleReadIndexOnLeader(m: Message): void {
    this.answerRead(m.from, this.raftLog.committed, m.context ?? EMPTY);
  }
}

export const brokenVariants: Record<string, (cfg: RaftConfig) => RaftNode> = {
  'commit previous-term entry by counting replicas': (cfg) => new CommitsPreviousTermByCounting(cfg),
  'grant a vote without persisting it': (cfg) => new VotesWithoutPersisting(cfg),
  'not truncating a conflicting suffix': (cfg) => new KeepsConflictingSuffix(cfg),
  'serve a leader read without ReadIndex': (cfg) => new ReadsWithoutReadIndex(cfg),
};
