import { KvError } from './errors.js';
import { checkKey, checkRangeEnd, describe } from './keys.js';
import type { Compare, DeleteRangeRequest, KvCommand, PutRequest, RangeRequest, RequestOp, TxnRequest } from './types.js';
import { checkTxnKeysDisjoint } from './txn.js';

/**
 * Static checks of a decoded command: field types and ranges, and the txn
 * rule that no key is written twice. Needs no state; state-dependent checks
 * (leases exist, revisions retained) happen in the store before any change.
 */
export function validateCommand(cmd: unknown): asserts cmd is KvCommand {
  if (typeof cmd !== 'object' || cmd === null) throw new KvError('invalid', `command: must be an object (got ${describe(cmd)})`);
  const c = cmd as { type?: unknown } & Record<string, unknown>;
  switch (c.type) {
    case 'put':
      validatePut(c, 'put');
      return;
    case 'deleteRange':
      validateDeleteRange(c, 'deleteRange');
      return;
    case 'txn':
      validateTxn(c, 'txn');
      checkTxnKeysDisjoint(c as unknown as TxnRequest, 'txn');
      return;
    case 'compact':
      checkInt(c.revision, 'compact.revision', 1);
      return;
    case 'leaseGrant':
      checkLeaseId(c.id, 'leaseGrant.id');
      checkInt(c.ttlSeconds, 'leaseGrant.ttlSeconds', 1);
      return;
    case 'leaseRevoke':
      checkLeaseId(c.id, 'leaseRevoke.id');
      return;
    case 'leaseKeepAlive':
      checkLeaseId(c.id, 'leaseKeepAlive.id');
      return;
    default:
      throw new KvError(
        'invalid',
        `command.type: must be one of put, deleteRange, txn, compact, leaseGrant, leaseRevoke, leaseKeepAlive (got ${describe(c.type)})`,
      );
  }
}

export function validateRange(r: unknown, field: string): asserts r is RangeRequest {
  const o = checkObject(r, field);
  checkKey(o.key, `${field}.key`);
  checkRangeEnd(o.rangeEnd, `${field}.rangeEnd`);
  checkOptInt(o.limit, `${field}.limit`, 0);
  checkOptInt(o.revision, `${field}.revision`, 0);
  checkOptBool(o.keysOnly, `${field}.keysOnly`);
  checkOptBool(o.countOnly, `${field}.countOnly`);
}

function validatePut(r: unknown, field: string): asserts r is PutRequest {
  const o = checkObject(r, field);
  checkKey(o.key, `${field}.key`);
  if (typeof o.value !== 'string') throw new KvError('invalid', `${field}.value: must be a string (got ${describe(o.value)})`);
  if (o.lease !== undefined && o.lease !== 0) checkLeaseId(o.lease, `${field}.lease`);
  checkOptBool(o.prevKv, `${field}.prevKv`);
  checkOptBool(o.ignoreValue, `${field}.ignoreValue`);
  checkOptBool(o.ignoreLease, `${field}.ignoreLease`);
  if (o.ignoreValue === true && o.value !== '') {
    throw new KvError('invalid', `${field}.value: must be empty when ignoreValue is set (got ${describe(o.value)})`);
  }
  if (o.ignoreLease === true && o.lease !== undefined && o.lease !== 0) {
    throw new KvError('invalid', `${field}.lease: must be 0 when ignoreLease is set (got ${describe(o.lease)})`);
  }
}

function validateDeleteRange(r: unknown, field: string): asserts r is DeleteRangeRequest {
  const o = checkObject(r, field);
  checkKey(o.key, `${field}.key`);
  checkRangeEnd(o.rangeEnd, `${field}.rangeEnd`);
  checkOptBool(o.prevKv, `${field}.prevKv`);
}

const TARGETS = new Set(['value', 'modRevision', 'createRevision', 'version', 'lease']);
const RESULTS = new Set(['=', '!=', '<', '>']);

function validateCompare(r: unknown, field: string): asserts r is Compare {
  const o = checkObject(r, field);
  checkKey(o.key, `${field}.key`);
  checkRangeEnd(o.rangeEnd, `${field}.rangeEnd`);
  if (typeof o.target !== 'string' || !TARGETS.has(o.target)) {
    throw new KvError('invalid', `${field}.target: must be one of value, modRevision, createRevision, version, lease (got ${describe(o.target)})`);
  }
  if (typeof o.result !== 'string' || !RESULTS.has(o.result)) {
    throw new KvError('invalid', `${field}.result: must be one of =, !=, <, > (got ${describe(o.result)})`);
  }
  if (o.value !== undefined && typeof o.value !== 'string') {
    throw new KvError('invalid', `${field}.value: must be a string (got ${describe(o.value)})`);
  }
  for (const name of ['revision', 'version', 'lease'] as const) {
    const v = o[name];
    if (v !== undefined && !Number.isSafeInteger(v)) {
      throw new KvError('invalid', `${field}.${name}: must be an integer (got ${describe(v)})`);
    }
  }
}

function validateTxn(r: unknown, field: string): asserts r is TxnRequest {
  const o = checkObject(r, field);
  const compare = checkArray(o.compare, `${field}.compare`);
  compare.forEach((c, i) => validateCompare(c, `${field}.compare[${i}]`));
  for (const branch of ['success', 'failure'] as const) {
    const ops = checkArray(o[branch], `${field}.${branch}`);
    ops.forEach((op, i) => validateOp(op, `${field}.${branch}[${i}]`));
  }
}

function validateOp(op: unknown, field: string): asserts op is RequestOp {
  const o = checkObject(op, field);
  const kinds = Object.keys(o);
  if (kinds.length !== 1) {
    throw new KvError('invalid', `${field}: must hold exactly one of range, put, deleteRange, txn (got ${kinds.length === 0 ? 'none' : kinds.join(', ')})`);
  }
  const kind = kinds[0];
  switch (kind) {
    case 'range':
      return validateRange(o.range, `${field}.range`);
    case 'put':
      return validatePut(o.put, `${field}.put`);
    case 'deleteRange':
      return validateDeleteRange(o.deleteRange, `${field}.deleteRange`);
    case 'txn':
      return validateTxn(o.txn, `${field}.txn`);
    default:
      throw new KvError('invalid', `${field}: unknown operation ${describe(kind)} (expected range, put, deleteRange or txn)`);
  }
}

function checkObject(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new KvError('invalid', `${field}: must be an object (got ${describe(v)})`);
  }
  return v as Record<string, unknown>;
}

function checkArray(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) throw new KvError('invalid', `${field}: must be an array (got ${describe(v)})`);
  return v;
}

function checkInt(v: unknown, field: string, min: number): number {
  if (!Number.isSafeInteger(v) || (v as number) < min) {
    throw new KvError('invalid', `${field}: must be an integer >= ${min} (got ${describe(v)})`);
  }
  return v as number;
}

function checkOptInt(v: unknown, field: string, min: number): void {
  if (v !== undefined) checkInt(v, field, min);
}

function checkOptBool(v: unknown, field: string): void {
  if (v !== undefined && typeof v !== 'boolean') throw new KvError('invalid', `${field}: must be a boolean (got ${describe(v)})`);
}

export function checkLeaseId(v: unknown, field: string): number {
  return checkInt(v, field, 1);
}
