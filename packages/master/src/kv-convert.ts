// Conversion between the wire shape of proto/kv.proto (as @grpc/proto-loader decodes it:
// snake_case, bytes as Buffers, oneof names as virtual fields) and @bramble/kv's types.
// Keys and values cross as latin1 strings: one char per byte, so byte order is kept.
import type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  KeyValue,
  OpResponse,
  PutRequest,
  RangeRequest,
  RangeResponse,
  RequestOp,
  TxnRequest,
  TxnResponse,
  WatchEvent,
} from '@bramble/kv';
import { HostError } from './raft-host.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Wire = Record<string, any>;

export function bytesToString(b: Buffer | Uint8Array | undefined | null): string {
  if (!b) return '';
  return Buffer.isBuffer(b) ? b.toString('latin1') : Buffer.from(b).toString('latin1');
}

export function stringToBytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

function invalid(message: string): HostError {
  return new HostError('INVALID_ARGUMENT', message);
}

function nonNegative(value: unknown, field: string): number {
  const n = Number(value ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(`${field}: must be a non-negative integer (got ${String(value)})`);
  return n;
}

function requireKey(key: Buffer | undefined, field: string): string {
  const s = bytesToString(key);
  if (s.length === 0) throw invalid(`${field}: key must not be empty`);
  return s;
}

export function kvToWire(kv: KeyValue): Wire {
  return {
    key: stringToBytes(kv.key),
    value: stringToBytes(kv.value),
    create_revision: kv.createRevision,
    mod_revision: kv.modRevision,
    version: kv.version,
    lease: kv.lease,
  };
}

export function rangeFromWire(w: Wire, field = 'range'): RangeRequest & { serializable: boolean } {
  return {
    key: requireKey(w.key, `${field}.key`),
    rangeEnd: bytesToString(w.range_end),
    limit: nonNegative(w.limit, `${field}.limit`),
    revision: nonNegative(w.revision, `${field}.revision`),
    keysOnly: Boolean(w.keys_only),
    countOnly: Boolean(w.count_only),
    serializable: Boolean(w.serializable),
  };
}

export function rangeResponseToWire(r: RangeResponse): Wire {
  return { kvs: r.kvs.map(kvToWire), more: r.more, count: r.count };
}

export function putFromWire(w: Wire, field = 'put'): PutRequest {
  return {
    key: requireKey(w.key, `${field}.key`),
    value: bytesToString(w.value),
    lease: nonNegative(w.lease, `${field}.lease`),
    prevKv: Boolean(w.prev_kv),
    ignoreValue: Boolean(w.ignore_value),
    ignoreLease: Boolean(w.ignore_lease),
  };
}

export function deleteFromWire(w: Wire, field = 'deleteRange'): DeleteRangeRequest {
  return { key: requireKey(w.key, `${field}.key`), rangeEnd: bytesToString(w.range_end), prevKv: Boolean(w.prev_kv) };
}

const TARGETS: Record<string, { target: CompareTarget; field: string }> = {
  VERSION: { target: 'version', field: 'version' },
  CREATE: { target: 'createRevision', field: 'create_revision' },
  MOD: { target: 'modRevision', field: 'mod_revision' },
  VALUE: { target: 'value', field: 'value' },
  LEASE: { target: 'lease', field: 'lease' },
};
const RESULTS: Record<string, CompareResult> = { EQUAL: '=', GREATER: '>', LESS: '<', NOT_EQUAL: '!=' };

export function compareFromWire(w: Wire, field: string): Compare {
  const t = TARGETS[String(w.target)];
  if (!t) throw invalid(`${field}.target: unknown compare target ${String(w.target)}`);
  const result = RESULTS[String(w.result)];
  if (!result) throw invalid(`${field}.result: unknown compare result ${String(w.result)}`);
  if (w.target_union && w.target_union !== t.field) {
    throw invalid(`${field}: target ${String(w.target)} compares ${t.field}, but ${String(w.target_union)} was given`);
  }
  const c: Compare = { key: requireKey(w.key, `${field}.key`), rangeEnd: bytesToString(w.range_end), target: t.target, result };
  switch (t.target) {
    case 'value':
      c.value = bytesToString(w.value);
      break;
    case 'version':
      c.version = nonNegative(w.version, `${field}.version`);
      break;
    case 'createRevision':
      c.revision = nonNegative(w.create_revision, `${field}.create_revision`);
      break;
    case 'modRevision':
      c.revision = nonNegative(w.mod_revision, `${field}.mod_revision`);
      break;
    case 'lease':
      c.lease = nonNegative(w.lease, `${field}.lease`);
      break;
  }
  return c;
}

export function requestOpFromWire(w: Wire, field: string): RequestOp {
  switch (w.request) {
    case 'request_range': {
      const { serializable: _ignored, ...range } = rangeFromWire(w.request_range, `${field}.request_range`);
      return { range };
    }
    case 'request_put':
      return { put: putFromWire(w.request_put, `${field}.request_put`) };
    case 'request_delete_range':
      return { deleteRange: deleteFromWire(w.request_delete_range, `${field}.request_delete_range`) };
    case 'request_txn':
      return { txn: txnFromWire(w.request_txn, `${field}.request_txn`) };
    default:
      throw invalid(`${field}: operation has no request (set one of request_range, request_put, request_delete_range, request_txn)`);
  }
}

export function txnFromWire(w: Wire, field = 'txn'): TxnRequest {
  const compare = (w.compare ?? []).map((c: Wire, i: number) => compareFromWire(c, `${field}.compare[${i}]`));
  const success = (w.success ?? []).map((op: Wire, i: number) => requestOpFromWire(op, `${field}.success[${i}]`));
  const failure = (w.failure ?? []).map((op: Wire, i: number) => requestOpFromWire(op, `${field}.failure[${i}]`));
  return { compare, success, failure };
}

export function txnResponseToWire(r: TxnResponse): Wire {
  return { succeeded: r.succeeded, responses: r.responses.map(opResponseToWire) };
}

function opResponseToWire(r: OpResponse): Wire {
  if ('range' in r) return { response_range: rangeResponseToWire(r.range) };
  if ('put' in r) return { response_put: { prev_kv: r.put.prevKv ? kvToWire(r.put.prevKv) : null } };
  if ('deleteRange' in r) {
    return { response_delete_range: { deleted: r.deleteRange.deleted, prev_kvs: (r.deleteRange.prevKvs ?? []).map(kvToWire) } };
  }
  return { response_txn: txnResponseToWire(r.txn) };
}

export function eventToWire(e: WatchEvent): Wire {
  return { type: e.type === 'put' ? 'PUT' : 'DELETE', kv: kvToWire(e.kv), prev_kv: e.prevKv ? kvToWire(e.prevKv) : null };
}

/** Approximate payload size of a request: the bytes it asks us to store. */
export function requestBytes(w: unknown): number {
  let total = 0;
  const visit = (v: unknown, depth: number): void => {
    if (depth > 64 || v === null || v === undefined) return;
    if (Buffer.isBuffer(v) || v instanceof Uint8Array) total += v.length;
    else if (typeof v === 'string') total += v.length;
    else if (Array.isArray(v)) for (const x of v) visit(x, depth + 1);
    else if (typeof v === 'object') for (const x of Object.values(v as object)) visit(x, depth + 1);
    else total += 8;
  };
  visit(w, 0);
  return total;
}
