import { KvError } from './errors.js';
import { describe, intervalsOverlap, keyInterval, type KeyInterval } from './keys.js';
import type { KeyVersion } from './history.js';
import type { Compare, RequestOp, TxnRequest } from './types.js';

/**
 * Refuses a txn in which one key could be written twice (etcd's "duplicate key
 * given in txn request"): within one branch, puts must name distinct keys and
 * no put may fall inside a deleteRange; nested txns count with both of their
 * branches, except that a nested txn's success and failure branches may touch
 * the same keys (only one of them runs). Overlapping deletes are allowed.
 *
 * This is what lets the store give each key at most one change per revision.
 */
export function checkTxnKeysDisjoint(txn: TxnRequest, field: string): void {
  checkBranch(txn.success, `${field}.success`);
  checkBranch(txn.failure, `${field}.failure`);
}

interface Writes {
  puts: Map<string, string>; // key -> field path of the put
  dels: { iv: KeyInterval; field: string }[];
}

function checkBranch(ops: RequestOp[], field: string): Writes {
  const acc: Writes = { puts: new Map(), dels: [] };
  ops.forEach((op, i) => {
    const opField = `${field}[${i}]`;
    let child: Writes;
    if ('put' in op) {
      child = { puts: new Map([[op.put.key, `${opField}.put`]]), dels: [] };
    } else if ('deleteRange' in op) {
      child = { puts: new Map(), dels: [{ iv: keyInterval(op.deleteRange.key, op.deleteRange.rangeEnd), field: `${opField}.deleteRange` }] };
    } else if ('txn' in op) {
      const then = checkBranch(op.txn.success, `${opField}.txn.success`);
      const otherwise = checkBranch(op.txn.failure, `${opField}.txn.failure`);
      child = { puts: new Map([...otherwise.puts, ...then.puts]), dels: [...then.dels, ...otherwise.dels] };
    } else {
      return; // a range writes nothing
    }
    for (const [key, putField] of child.puts) {
      const earlier = acc.puts.get(key);
      if (earlier !== undefined) {
        throw new KvError('invalid', `${putField}: duplicate key given in txn request: ${describe(key)} is also written by ${earlier}`);
      }
      for (const d of acc.dels) {
        if (intervalsOverlap(keyInterval(key, undefined), d.iv)) {
          throw new KvError('invalid', `${putField}: duplicate key given in txn request: ${describe(key)} is also deleted by ${d.field}`);
        }
      }
    }
    for (const d of child.dels) {
      for (const [key, putField] of acc.puts) {
        if (intervalsOverlap(keyInterval(key, undefined), d.iv)) {
          throw new KvError('invalid', `${d.field}: duplicate key given in txn request: deletes ${describe(key)}, also written by ${putField}`);
        }
      }
    }
    for (const [k, f] of child.puts) acc.puts.set(k, f);
    acc.dels.push(...child.dels);
  });
  return acc;
}

/** Visits the live versions in an interval at the txn's read revision. */
export type LiveScan = (iv: KeyInterval, visit: (v: KeyVersion) => boolean | void) => void;

/**
 * etcd's applyCompare: true iff every key present in the range satisfies the
 * compare; with no key present, a 'value' compare is false and numeric
 * targets compare 0.
 */
export function evaluateCompare(c: Compare, scan: LiveScan): boolean {
  let any = false;
  let all = true;
  scan(keyInterval(c.key, c.rangeEnd), (v) => {
    any = true;
    if (!compareOne(c, v)) {
      all = false;
      return false;
    }
    return true;
  });
  if (any) return all;
  if (c.target === 'value') return false;
  return compareOne(c, undefined);
}

function compareOne(c: Compare, v: KeyVersion | undefined): boolean {
  let cmp: number;
  switch (c.target) {
    case 'value': {
      const actual = v?.value ?? '';
      const expected = c.value ?? '';
      cmp = actual < expected ? -1 : actual > expected ? 1 : 0;
      break;
    }
    case 'modRevision':
      cmp = Math.sign((v?.modRevision ?? 0) - (c.revision ?? 0));
      break;
    case 'createRevision':
      cmp = Math.sign((v?.createRevision ?? 0) - (c.revision ?? 0));
      break;
    case 'version':
      cmp = Math.sign((v?.version ?? 0) - (c.version ?? 0));
      break;
    case 'lease':
      cmp = Math.sign((v?.lease ?? 0) - (c.lease ?? 0));
      break;
  }
  switch (c.result) {
    case '=':
      return cmp === 0;
    case '!=':
      return cmp !== 0;
    case '<':
      return cmp < 0;
    case '>':
      return cmp > 0;
  }
}

/** The branch a txn takes, and recursively the branches of its nested txns. */
export interface TxnPlan {
  succeeded: boolean;
  ops: RequestOp[];
  /** Aligned with `ops`: the plan of each nested txn op. */
  nested: (TxnPlan | undefined)[];
}

/**
 * Evaluates every compare, nested ones included, against the state before the
 * txn runs (as etcd's compareToPath does): a nested txn's guard does not see
 * the writes of the ops before it.
 */
export function planTxn(txn: TxnRequest, scan: LiveScan): TxnPlan {
  const succeeded = txn.compare.every((c) => evaluateCompare(c, scan));
  const ops = succeeded ? txn.success : txn.failure;
  return { succeeded, ops, nested: ops.map((op) => ('txn' in op ? planTxn(op.txn, scan) : undefined)) };
}
