/** Base class: every error this package throws says what was refused or found, and why. */
export class StorageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * What is on disk cannot be a state this package ever wrote: a gap in the log,
 * a commit index past the last entry, an unreadable record. Opening refuses it
 * rather than hand the Raft core a log that would break its invariants.
 */
export class StorageCorruptionError extends StorageError {}
