export type KvErrorCode =
  | 'compacted'
  | 'future_revision'
  | 'lease_not_found'
  | 'lease_exists'
  | 'key_not_found'
  | 'slow_watcher'
  | 'invalid';

/**
 * A command or read that was refused. When `apply` throws it, the store is
 * unchanged: no revision, no event, no lease change. The message names the
 * field and the value that was wrong.
 *
 * - compacted: the revision asked for was dropped by compaction
 * - future_revision: the revision asked for is above the current revision
 * - lease_not_found / lease_exists: lease id unknown / already granted
 * - key_not_found: put with ignoreValue/ignoreLease on a key that does not exist
 * - slow_watcher: a WatchBuffer overflowed and was cut off (re-watch from `resumeRevision`)
 * - invalid: malformed command (bad field type, empty key, duplicate key in a txn...)
 */
export class KvError extends Error {
  constructor(
    readonly code: KvErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KvError';
  }
}
