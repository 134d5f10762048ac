/**
 * Public data types of the key-value state machine. They mirror etcd's v3 API
 * (mvccpb.KeyValue, RangeRequest, PutRequest, DeleteRangeRequest, TxnRequest,
 * Compare, RequestOp) with camelCase names. Keys and values are JS strings used
 * as byte strings: every code unit is one byte (0x00-0xff), so ordinary string
 * comparison is byte order.
 */

/** One version of one key, as returned by reads, responses and watch events. */
export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the put that created this generation of the key. 0 for a delete event's kv. */
  createRevision: number;
  /** Revision of the last put (or, in a delete event, of the delete). */
  modRevision: number;
  /** 1 on create, +1 on every put, reset by delete. 0 in a delete event's kv. */
  version: number;
  /** Attached lease id, 0 = none. */
  lease: number;
}

/**
 * A range is `[key, rangeEnd)`. `rangeEnd` omitted or '' = just `key`;
 * `rangeEnd` = '\0' = every key >= `key`. Use `prefixEnd(p)` for a prefix.
 */
export interface RangeRequest {
  key: string;
  rangeEnd?: string;
  /** Maximum number of kvs returned; 0 or omitted = no limit. */
  limit?: number;
  /** Read the state as of this revision; 0 or omitted = current. */
  revision?: number;
  /** Return kvs with empty values. */
  keysOnly?: boolean;
  /** Return no kvs, only `count`. */
  countOnly?: boolean;
}

export interface RangeResponse {
  kvs: KeyValue[];
  /** True when `limit` cut the answer short: more keys exist in the range. */
  more: boolean;
  /** Number of keys in the range at the read revision (ignores `limit`). */
  count: number;
  /** Header revision: the store's revision when the read was served. */
  revision: number;
}

export interface PutRequest {
  key: string;
  value: string;
  /** Lease to attach; 0 or omitted = none (detaches any current lease). */
  lease?: number;
  /** Return the previous kv (if the key existed) in the response. */
  prevKv?: boolean;
  /** Keep the current value (key must exist; `value` must be ''). */
  ignoreValue?: boolean;
  /** Keep the current lease (key must exist; `lease` must be 0). */
  ignoreLease?: boolean;
}

export interface DeleteRangeRequest {
  key: string;
  rangeEnd?: string;
  /** Return the deleted kvs in the response. */
  prevKv?: boolean;
}

export type CompareTarget = 'value' | 'modRevision' | 'createRevision' | 'version' | 'lease';
export type CompareResult = '=' | '!=' | '<' | '>';

/**
 * A txn guard, with etcd semantics: over a range it holds only if every key
 * present in the range satisfies it; when no key is present, a `value` compare
 * is false and numeric targets compare 0 (so `createRevision = 0` tests absence).
 */
export interface Compare {
  key: string;
  rangeEnd?: string;
  target: CompareTarget;
  result: CompareResult;
  /** For target 'value' (omitted = ''). */
  value?: string;
  /** For targets 'modRevision' and 'createRevision' (omitted = 0). */
  revision?: number;
  /** For target 'version' (omitted = 0). */
  version?: number;
  /** For target 'lease' (omitted = 0). */
  lease?: number;
}

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}

/** One operation of a txn branch. Nested txns are allowed, as in etcd. */
export type RequestOp =
  | { range: RangeRequest }
  | { put: PutRequest }
  | { deleteRange: DeleteRangeRequest }
  | { txn: TxnRequest };

export interface CompactRequest {
  /** Drop history older than this revision (see README: compaction rule). */
  revision: number;
}

export type PutCommand = { type: 'put' } & PutRequest;
export type DeleteRangeCommand = { type: 'deleteRange' } & DeleteRangeRequest;
export type TxnCommand = { type: 'txn' } & TxnRequest;
export type CompactCommand = { type: 'compact' } & CompactRequest;
/** `id` is chosen by the proposer: nonzero, and unknown to the store. */
export interface LeaseGrantCommand { type: 'leaseGrant'; id: number; ttlSeconds: number }
/** Deletes every key attached to the lease, all in one revision, then the lease. */
export interface LeaseRevokeCommand { type: 'leaseRevoke'; id: number }
/** Goes through the log only to check the lease still exists; returns its TTL. */
export interface LeaseKeepAliveCommand { type: 'leaseKeepAlive'; id: number }

/** A committed Raft entry, decoded. */
export type KvCommand =
  | PutCommand
  | DeleteRangeCommand
  | TxnCommand
  | CompactCommand
  | LeaseGrantCommand
  | LeaseRevokeCommand
  | LeaseKeepAliveCommand;

export interface PutResponse {
  prevKv?: KeyValue;
}

export interface DeleteRangeResponse {
  deleted: number;
  prevKvs?: KeyValue[];
}

export interface TxnResponse {
  succeeded: boolean;
  responses: OpResponse[];
}

export type OpResponse =
  | { range: RangeResponse }
  | { put: PutResponse }
  | { deleteRange: DeleteRangeResponse }
  | { txn: TxnResponse };

/** What `apply` returns. `revision` is the store's revision after the command. */
export type KvResult = { revision: number } & (
  | ({ type: 'put' } & PutResponse)
  | ({ type: 'deleteRange' } & DeleteRangeResponse)
  | ({ type: 'txn' } & TxnResponse)
  | { type: 'compact' }
  | { type: 'leaseGrant'; id: number; ttlSeconds: number }
  | { type: 'leaseRevoke' }
  | { type: 'leaseKeepAlive'; id: number; ttlSeconds: number }
);

export interface WatchEvent {
  type: 'put' | 'delete';
  /** For a delete: `key`, `modRevision` = the deletion revision, everything else empty/0. */
  kv: KeyValue;
  /** The key's previous version, when the watch asked for prevKv and one existed. */
  prevKv?: KeyValue;
}

export interface WatchOptions {
  key: string;
  rangeEnd?: string;
  /** First revision to deliver; 0 or omitted = from the next revision. Must be > compactRevision. */
  startRevision?: number;
  /** Include each event's previous kv. */
  prevKv?: boolean;
}

/** Receives the events of one revision per call, in the order they happened. Must not call `apply`. */
export type WatchSink = (events: WatchEvent[]) => void;

export interface LeaseInfo {
  id: number;
  /** TTL granted (the state has no clock; remaining time lives in LeaseClock on the leader). */
  ttlSeconds: number;
  /** Keys attached now, sorted. */
  keys: string[];
}

export interface KvStats {
  /** Live keys at the current revision. */
  keys: number;
  /** Key versions retained (live values, old values and tombstones). */
  revisions: number;
  watchers: number;
  leases: number;
  /** Rough size of the retained data (strings plus fixed per-version overhead). */
  approxBytes: number;
}

export interface KvStoreOptions {
  /** Default bound of a `WatchBuffer` made by `watchBuffered`. Default 10_000. */
  maxWatcherPendingEvents?: number;
}
