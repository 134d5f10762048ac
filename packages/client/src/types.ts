// The client's public shapes: camelCase, numbers for revisions and lease ids, Buffers for keys and values.

/** A key or value as the caller gives it: a string is encoded as UTF-8. */
export type Bytes = string | Uint8Array;

/** Lease ids are positive integers chosen by the server (0 = no lease); they fit a JS number. */
export type LeaseId = number;

export interface ResponseHeader {
  clusterId: string;
  /** The master that answered. */
  member: string;
  /** Store revision when the request was served. */
  revision: number;
  raftTerm: number;
  /** The leader as the answering master knew it ('' = none known). */
  leader: string;
}

/** One key as stored: etcd's mvccpb.KeyValue. */
export class KeyValue {
  constructor(
    readonly key: Buffer,
    readonly value: Buffer,
    readonly createRevision: number,
    readonly modRevision: number,
    /** Number of modifications since creation (1 after the first put). */
    readonly version: number,
    /** Attached lease, 0 = none. */
    readonly lease: LeaseId,
  ) {}

  /** The key decoded as UTF-8. */
  keyString(): string {
    return this.key.toString('utf8');
  }

  /** The value decoded as UTF-8. */
  valueString(): string {
    return this.value.toString('utf8');
  }
}

export interface GetOptions {
  /** Every key starting with `key`. */
  prefix?: boolean;
  /** Explicit end of the range [key, rangeEnd); "\0" = every key >= key. Overrides `prefix`. */
  rangeEnd?: Bytes;
  /** At most this many keys (0 = no limit); `more` says whether there were more. */
  limit?: number;
  /** Read at this revision (0 = latest). */
  revision?: number;
  /** Answer from the contacted master's state, possibly stale; default is linearizable. */
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
}

export interface RangeResult {
  header: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  /** Keys in the range (not limited by `limit`). */
  count: number;
}

export interface PutOptions {
  lease?: LeaseId;
  /** Return the key's previous value in `prevKv`. */
  prevKv?: boolean;
}

export interface PutResult {
  header: ResponseHeader;
  prevKv?: KeyValue;
}

export interface DeleteOptions {
  prefix?: boolean;
  rangeEnd?: Bytes;
  prevKv?: boolean;
}

export interface DeleteResult {
  header: ResponseHeader;
  deleted: number;
  prevKvs: KeyValue[];
}

export type CompareTarget = 'version' | 'create' | 'mod' | 'value' | 'lease';
export type CompareOp = '=' | '!=' | '<' | '>';

/**
 * One comparison of a transaction: `<target>(key) <op> value`. `value` is a number for
 * version/create/mod/lease and bytes for value. `version = 0` / `create = 0` mean
 * "the key does not exist".
 */
export interface CompareSpec {
  key: Bytes;
  target: CompareTarget;
  op: CompareOp;
  value: number | Bytes;
  /** Compare every key in [key, rangeEnd) (all must match). */
  rangeEnd?: Bytes;
  prefix?: boolean;
}

export type OpSpec =
  | ({ type: 'get'; key: Bytes } & GetOptions)
  | ({ type: 'put'; key: Bytes; value: Bytes } & PutOptions)
  | ({ type: 'delete'; key: Bytes } & DeleteOptions)
  | ({ type: 'txn' } & TxnSpec);

export interface TxnSpec {
  compare: CompareSpec[];
  success: OpSpec[];
  failure: OpSpec[];
}

export type OpResult =
  | { type: 'get'; range: RangeResult }
  | { type: 'put'; put: PutResult }
  | { type: 'delete'; delete: DeleteResult }
  | { type: 'txn'; txn: TxnResult };

export interface TxnResult {
  header: ResponseHeader;
  /** True when every comparison held and the success branch ran. */
  succeeded: boolean;
  responses: OpResult[];
}

export interface CompactResult {
  header: ResponseHeader;
}

export type WatchEventType = 'PUT' | 'DELETE';

export interface WatchEvent {
  type: WatchEventType;
  /** For DELETE: the key, with modRevision = the deletion's revision. */
  kv: KeyValue;
  /** Set when the watch asked for prevKv and the key existed. */
  prevKv?: KeyValue;
}

export interface WatchOptions {
  prefix?: boolean;
  rangeEnd?: Bytes;
  /** First revision to deliver (0 = changes after now). */
  startRevision?: number;
  prevKv?: boolean;
  /**
   * Called once if the watch ends for good (server cancellation, compaction, gave up
   * reconnecting, or `onEvents` threw). `closed` rejects with the same error.
   */
  onError?: (err: Error) => void;
  /**
   * Give up when no stream could be re-established for this long after a failure.
   * Default 60 000 ms. The handle's `lastRevision` says where to resume. Before the
   * watch was first established, the client's request timeout applies instead (if shorter).
   */
  reconnectTimeoutMs?: number;
}

export interface WatchHandle {
  /** Resolves when the server confirmed the first stream (the watch is in place). */
  readonly ready: Promise<void>;
  /** Resolves after `cancel()`; rejects with a BrambleError if the watch failed. */
  readonly closed: Promise<void>;
  /** Highest revision delivered (or the start point), so a caller can resume after a failure. */
  readonly lastRevision: number;
  cancel(): void;
}

export interface LeaseGrantResult {
  header: ResponseHeader;
  id: LeaseId;
  /** Granted TTL in seconds. */
  ttl: number;
}

export interface LeaseRevokeResult {
  header: ResponseHeader;
}

export interface LeaseKeepAliveResult {
  header: ResponseHeader;
  id: LeaseId;
  /** New remaining TTL in seconds. */
  ttl: number;
}

export interface LeaseTimeToLiveResult {
  header: ResponseHeader;
  id: LeaseId;
  /** Remaining seconds; -1 = expired or unknown. */
  ttl: number;
  grantedTtl: number;
  keys: Buffer[];
}

export interface LeaseKeepAliveOptions {
  /** Called on every renewal the server confirms. */
  onKeepAlive?: (r: LeaseKeepAliveResult) => void;
  /** Called once if keeping the lease alive fails for good; `closed` rejects with the same error. */
  onError?: (err: Error) => void;
  /** Renew this often; default one third of the TTL the server reports (at least 500 ms). */
  intervalMs?: number;
}

export interface LeaseKeepAliveHandle {
  readonly id: LeaseId;
  /** TTL from the latest renewal (0 before the first one). */
  readonly ttl: number;
  /** Resolves with the TTL of the first confirmed renewal. */
  readonly ready: Promise<number>;
  /** Resolves after `cancel()`; rejects with LEASE_EXPIRED if the lease is gone, or when no master answered for a whole TTL. */
  readonly closed: Promise<void>;
  cancel(): void;
}

// ---- cluster ----

export interface Member {
  name: string;
  /** gRPC host:port. */
  address: string;
  /** HTTP host:port for /healthz, /readyz, /metrics ('' = none). */
  httpAddress: string;
  isLearner: boolean;
}

export interface StatusResult {
  clusterId: string;
  member: string;
  leader: string;
  term: number;
  /** leader | follower | candidate | pre-candidate | learner */
  role: string;
  commitIndex: number;
  appliedIndex: number;
  revision: number;
  lastIndex: number;
  snapshotIndex: number;
  version: string;
  errors: string[];
}

export interface EndpointStatus {
  endpoint: string;
  status?: StatusResult;
  error?: Error;
}

export interface MemberListResult {
  clusterId: string;
  leader: string;
  members: Member[];
}

export interface MemberAddResult {
  member: Member;
  members: Member[];
}

export interface MembersResult {
  members: Member[];
}

export interface TransferLeaderResult {
  leader: string;
  term: number;
}
