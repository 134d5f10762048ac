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

/**
 * Stands for any value that no get returns and no cas expects in a partition. Such
 * values are indistinguishable to every operation, so writing them all as this one
 * value keeps the answer and lets the search treat those writes as interchangeable.
 */
const UNOBSERVED = '\u0000unobserved';

function mentionedValues(ops: KvOperation[]): Set<string> {
  const mentioned = new Set<string>();
  for (const op of ops) {
    if (op.input.op === 'cas' && op.input.expected !== null) mentioned.add(op.input.expected);
    if (op.status === 'ok' && op.output?.op === 'get' && op.output.value !== null) mentioned.add(op.output.value);
  }
  return mentioned;
}

/** `ops` with every unobserved written value replaced by one placeholder (a new array; unchanged ops are shared). */
function canonicalize(ops: KvOperation[]): KvOperation[] {
  const mentioned = mentionedValues(ops);
  let placeholder = UNOBSERVED;
  while (mentioned.has(placeholder)) placeholder += '\u0000';
  return ops.map((op) => {
    const input = op.input;
    if ((input.op === 'put' || input.op === 'cas') && !mentioned.has(input.value) && input.value !== placeholder) {
      return { ...op, input: { ...input, value: placeholder } };
    }
    return op;
  });
}

/**
 * Groups by key, in order of first appearance. A get with unknown outcome constrains
 * nothing and is left out; values no operation observes are canonicalized (above).
 * Operations keep their ids, so reports can show the original ones.
 */
function partition(ops: KvOperation[]): KvOperation[][] {
  const byKey = new Map<string, KvOperation[]>();
  for (const op of ops) {
    if (op.status === 'unknown' && op.input.op === 'get') continue;
    const group = byKey.get(op.input.key);
    if (group === undefined) byKey.set(op.input.key, [op]);
    else group.push(op);
  }
  return [...byKey.values()].map(canonicalize);
}

/** States as JSON; the placeholder (which starts with NUL) gets a readable name. */
function key(state: KvState): string {
  if (state !== null && /^\u0000unobserved\u0000*$/.test(state)) {
    return `<unobserved value${"'".repeat(state.length - UNOBSERVED.length)}>`;
  }
  return JSON.stringify(state);
}

/**
 * Absent, plus every value `before` may have written. A register state only matters to
 * `window` through comparisons (a get's result, a cas's expected value, a delete's
 * absent/present), so written values that `window` never mentions are merged into one.
 */
function statesAfter(before: KvOperation[], window: KvOperation[]): KvState[] {
  const mentioned = mentionedValues(window);
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

/** Gets, failed compare-and-swaps and deletes of an absent key change nothing. */
function readOnly(input: KvInput, output: KvOutput): boolean {
  if (output.op !== input.op) throw mismatch(input, output);
  return (
    output.op === 'get' || (output.op === 'cas' && !output.ok) || (output.op === 'delete' && !output.deleted)
  );
}

export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => null,
  step,
  readOnly,
  partition,
  key,
  describeOperation,
  inputKey: (input) => JSON.stringify([input.op, input.key, 'value' in input ? input.value : null, 'expected' in input ? input.expected : null]),
  partitionKey: (ops) => ops[0]?.input.key ?? '',
  statesAfter,
};
