/** Base class: every error the Raft core throws says what was refused and why. */
export class RaftError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The proposal was not accepted (no leader known, leadership transfer in progress, removed member...). Safe to retry elsewhere. */
export class ProposalDroppedError extends RaftError {}

/** A membership change was refused (another one pending, leader has not committed in its term, invalid change). */
export class ConfChangeRefusedError extends RaftError {}

/** The requested log position was discarded by compaction. */
export class CompactedError extends RaftError {}

/** The requested log position is beyond the end of the log. */
export class UnavailableError extends RaftError {}

/** A broken invariant inside the core or a host that violated the contract. Never expected. */
export class RaftInvariantError extends RaftError {}
