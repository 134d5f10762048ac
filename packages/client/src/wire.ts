// Conversion between the client's types and proto/kv.proto + proto/cluster.proto as
// @grpc/proto-loader decodes them (transport's PROTO_LOADER_OPTIONS: snake_case field
// names, int64 as numbers, enums as names, bytes as Buffers, oneofs as virtual fields).
import {
  KeyValue,
  type Bytes,
  type CompareSpec,
  type DeleteOptions,
  type GetOptions,
  type Member,
  type OpResult,
  type OpSpec,
  type PutOptions,
  type RangeResult,
  type ResponseHeader,
  type StatusResult,
  type TxnResult,
  type TxnSpec,
  type WatchEvent,
  type DeleteResult,
  type PutResult,
} from './types.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
/** A decoded (or to-be-encoded) protobuf message. */
export type Wire = Record<string, any>;

export function toBuffer(b: Bytes): Buffer {
  if (typeof b === 'string') return Buffer.from(b, 'utf8');
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * etcd's prefix rule: the range end is the key with its last byte incremented, after
 * dropping trailing 0xff bytes; a key of only 0xff bytes (or empty) ranges to the end ("\0").
 */
export function prefixRangeEnd(key: Buffer): Buffer {
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i] += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** [key, rangeEnd) for a key plus prefix/rangeEnd options; an empty key with prefix means every key. */
export function keyRange(key: Bytes, opts: { prefix?: boolean; rangeEnd?: Bytes }): { key: Buffer; range_end: Buffer } {
  let k = toBuffer(key);
  if (opts.rangeEnd !== undefined) return { key: k, range_end: toBuffer(opts.rangeEnd) };
  if (!opts.prefix) return { key: k, range_end: Buffer.alloc(0) };
  if (k.length === 0) {
    k = Buffer.from([0]);
    return { key: k, range_end: Buffer.from([0]) };
  }
  return { key: k, range_end: prefixRangeEnd(k) };
}

function num(v: unknown): number {
  if (v === undefined || v === null) return 0;
  return typeof v === 'number' ? v : Number(v);
}

function buf(v: unknown): Buffer {
  if (!v) return Buffer.alloc(0);
  return Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array);
}

export function headerFromWire(h: Wire | null | undefined): ResponseHeader {
  return {
    clusterId: h?.cluster_id ?? '',
    member: h?.member ?? '',
    revision: num(h?.revision),
    raftTerm: num(h?.raft_term),
    leader: h?.leader ?? '',
  };
}

export function kvFromWire(w: Wire): KeyValue {
  return new KeyValue(buf(w.key), buf(w.value), num(w.create_revision), num(w.mod_revision), num(w.version), num(w.lease));
}

/** proto3 leaves an unset message field null; an all-default KeyValue means "none" too. */
function optionalKv(w: Wire | null | undefined): KeyValue | undefined {
  if (!w) return undefined;
  const kv = kvFromWire(w);
  return kv.key.length === 0 && kv.modRevision === 0 ? undefined : kv;
}

export function rangeRequest(key: Bytes, opts: GetOptions = {}): Wire {
  return {
    ...keyRange(key, opts),
    limit: opts.limit ?? 0,
    revision: opts.revision ?? 0,
    serializable: opts.serializable ?? false,
    keys_only: opts.keysOnly ?? false,
    count_only: opts.countOnly ?? false,
  };
}

export function rangeFromWire(w: Wire): RangeResult {
  return {
    header: headerFromWire(w.header),
    kvs: (w.kvs ?? []).map(kvFromWire),
    more: Boolean(w.more),
    count: num(w.count),
  };
}

export function putRequest(key: Bytes, value: Bytes, opts: PutOptions = {}): Wire {
  return { key: toBuffer(key), value: toBuffer(value), lease: opts.lease ?? 0, prev_kv: opts.prevKv ?? false };
}

export function putFromWire(w: Wire): PutResult {
  const prevKv = optionalKv(w.prev_kv);
  return prevKv ? { header: headerFromWire(w.header), prevKv } : { header: headerFromWire(w.header) };
}

export function deleteRequest(key: Bytes, opts: DeleteOptions = {}): Wire {
  return { ...keyRange(key, opts), prev_kv: opts.prevKv ?? false };
}

export function deleteFromWire(w: Wire): DeleteResult {
  return { header: headerFromWire(w.header), deleted: num(w.deleted), prevKvs: (w.prev_kvs ?? []).map(kvFromWire) };
}

const COMPARE_RESULT = { '=': 'EQUAL', '>': 'GREATER', '<': 'LESS', '!=': 'NOT_EQUAL' } as const;
const COMPARE_TARGET = { version: 'VERSION', create: 'CREATE', mod: 'MOD', value: 'VALUE', lease: 'LEASE' } as const;
const COMPARE_FIELD = {
  version: 'version',
  create: 'create_revision',
  mod: 'mod_revision',
  value: 'value',
  lease: 'lease',
} as const;

export function compareToWire(c: CompareSpec, field: string): Wire {
  const result = COMPARE_RESULT[c.op];
  const target = COMPARE_TARGET[c.target];
  if (!result) throw new TypeError(`${field}.op: must be one of =, !=, <, > (got ${JSON.stringify(c.op)})`);
  if (!target) throw new TypeError(`${field}.target: must be one of version, create, mod, value, lease (got ${JSON.stringify(c.target)})`);
  let value: number | Buffer;
  if (c.target === 'value') {
    if (typeof c.value === 'number') throw new TypeError(`${field}.value: must be a string or bytes for a value comparison (got ${c.value})`);
    value = toBuffer(c.value);
  } else {
    if (typeof c.value !== 'number' || !Number.isSafeInteger(c.value)) {
      throw new TypeError(`${field}.value: must be an integer for a ${c.target} comparison (got ${JSON.stringify(c.value)})`);
    }
    value = c.value;
  }
  const range = keyRange(c.key, c);
  return { result, target, key: range.key, range_end: range.range_end, [COMPARE_FIELD[c.target]]: value };
}

export function opToWire(op: OpSpec, field: string): Wire {
  switch (op.type) {
    case 'get':
      return { request_range: rangeRequest(op.key, op) };
    case 'put':
      return { request_put: putRequest(op.key, op.value, op) };
    case 'delete':
      return { request_delete_range: deleteRequest(op.key, op) };
    case 'txn':
      return { request_txn: txnRequest(op, field) };
    default:
      throw new TypeError(`${field}.type: must be one of get, put, delete, txn (got ${JSON.stringify((op as { type: unknown }).type)})`);
  }
}

export function txnRequest(t: TxnSpec, field = 'txn'): Wire {
  return {
    compare: (t.compare ?? []).map((c, i) => compareToWire(c, `${field}.compare[${i}]`)),
    success: (t.success ?? []).map((o, i) => opToWire(o, `${field}.success[${i}]`)),
    failure: (t.failure ?? []).map((o, i) => opToWire(o, `${field}.failure[${i}]`)),
  };
}

function opResultFromWire(w: Wire): OpResult {
  if (w.response_range) return { type: 'get', range: rangeFromWire(w.response_range) };
  if (w.response_put) return { type: 'put', put: putFromWire(w.response_put) };
  if (w.response_delete_range) return { type: 'delete', delete: deleteFromWire(w.response_delete_range) };
  if (w.response_txn) return { type: 'txn', txn: txnFromWire(w.response_txn) };
  throw new TypeError(`txn response: a ResponseOp with no response set (${JSON.stringify(Object.keys(w))})`);
}

export function txnFromWire(w: Wire): TxnResult {
  return { header: headerFromWire(w.header), succeeded: Boolean(w.succeeded), responses: (w.responses ?? []).map(opResultFromWire) };
}

export function eventFromWire(w: Wire): WatchEvent {
  const type = w.type === 'DELETE' || w.type === 1 ? 'DELETE' : 'PUT';
  const prevKv = optionalKv(w.prev_kv);
  const kv = kvFromWire(w.kv ?? {});
  return prevKv ? { type, kv, prevKv } : { type, kv };
}

export function memberFromWire(w: Wire): Member {
  return { name: w.name ?? '', address: w.address ?? '', httpAddress: w.http_address ?? '', isLearner: Boolean(w.is_learner) };
}

export function statusFromWire(w: Wire): StatusResult {
  return {
    clusterId: w.cluster_id ?? '',
    member: w.member ?? '',
    leader: w.leader ?? '',
    term: num(w.term),
    role: w.role ?? '',
    commitIndex: num(w.commit_index),
    appliedIndex: num(w.applied_index),
    revision: num(w.revision),
    lastIndex: num(w.last_index),
    snapshotIndex: num(w.snapshot_index),
    version: w.version ?? '',
    errors: [...(w.errors ?? [])],
  };
}
