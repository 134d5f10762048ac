// A key-value store as a set of independent registers, one per key.

import type { Model, Operation } from './types.js';

export type KvInput =
  | { op: 'put'; key: string; value: string }
  | { op: 'get'; key: string }
  /** `expected` null = "key absent". */
  | { op: 'cas'; key: string; expected: string | null; value: string }
  | { op: 'delete'; key: string };

export type KvOutput =
  | { op: 'put' }
  | { op: 'get'; value: string | null }
  | { op: 'cas'; ok: boolean }
  | { op: 'delete'; deleted: boolean };

/** The value of one key; null = absent. */
export type KvState = string | null;

export type KvOperation = Operation<KvInput, KvOutput>;

function mismatch(input: KvInput, output: KvOutput): Error {
  return new Error(
    `kv model: output of a ${input.op} on key ${JSON.stringify(input.key)} is a ${String(output.op)} output (${JSON.stringify(output)})`,
  );
}

function step(state: KvState, input: KvInput, output: KvOutput | undefined): KvState | undefined {
  if (output !== undefined && output.op !== input.op) throw mismatch(input, output);
  switch (input.op) {
    case 'put':
      return input.value;
    case 'get': {
      if (output === undefined) return state;
      return (output as { value: string | null }).value === state ? state : undefined;
    }
    case 'cas': {
      const swaps = state === input.expected;
      if (output === undefined) return swaps ? input.value : state;
      if ((output as { ok: boolean }).ok !== swaps) return undefined;
      return swaps ? input.value : state;
    }
    case 'delete': {
      if (output === undefined) return null;
      return (output as { deleted: boolean }).deleted === (state !== null) ? null : undefined;
    }
  }
}

/** A value as written in descriptions: bare when unambiguous, else JSON. */
function show(value: string | null): string {
  if (value === null) return 'null';
  return /^[\w.:/-]+$/.test(value) && value !== 'null' ? value : JSON.stringify(value);
}

function describeOperation(op: KvOperation): string {
  const input = op.input;
  const k = show(input.key);
  const call =
    input.op === 'put'
      ? `put(${k}, ${show(input.value)})`
      : input.op === 'get'
        ? `get(${k})`
        : input.op === 'cas'
          ? `cas(${k}, ${show(input.expected)}->${show(input.value)})`
          : `delete(${k})`;
  if (op.status !== 'ok' || op.output === undefined) return `${call} -> ?`;
  const output = op.output;
  switch (output.op) {
    case 'put':
      return call;
    case 'get':
      return `${call} -> ${show(output.value)}`;
    case 'cas':
      return `${call} -> ${output.ok}`;
    case 'delete':
      return `${call} -> ${output.deleted}`;
  }
}

/** Groups by key, in order of first appearance; a get with unknown outcome constrains nothing and is left out. */
function partition(ops: KvOperation[]): KvOperation[][] {
  const byKey = new Map<string, KvOperation[]>();
  for (const op of ops) {
    if (op.status === 'unknown' && op.input.op === 'get') continue;
    const group = byKey.get(op.input.key);
    if (group === undefined) byKey.set(op.input.key, [op]);
    else group.push(op);
  }
  return [...byKey.values()];
}

/**
 * Absent, plus every value `before` may have written. A register state only matters to
 * `window` through comparisons (a get's result, a cas's expected value, a delete's
 * absent/present), so written values that `window` never mentions are merged into one.
 */
function statesAfter(before: KvOperation[], window: KvOperation[]): KvState[] {
  const mentioned = new Set<string>();
  for (const op of window) {
    if (op.input.op === 'cas' && op.input.expected !== null) mentioned.add(op.input.expected);
    if (op.status === 'ok' && op.output?.op === 'get' && op.output.value !== null) mentioned.add(op.output.value);
  }
  const states = new Set<KvState>([null]);
  let unmentioned: string | undefined;
  for (const op of before) {
    const input = op.input;
    let written: string | undefined;
    if (input.op === 'put') written = input.value;
    if (input.op === 'cas' && !(op.status === 'ok' && op.output?.op === 'cas' && !op.output.ok)) written = input.value;
    if (written === undefined) continue;
    if (mentioned.has(written)) states.add(written);
    else unmentioned ??= written;
  }
  if (unmentioned !== undefined) states.add(unmentioned);
  return [...states];
}

export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => null,
  step,
  partition,
  key: (state) => JSON.stringify(state),
  describeOperation,
  partitionKey: (ops) => ops[0]?.input.key ?? '',
  statesAfter,
};
