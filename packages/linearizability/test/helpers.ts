// Shared by the tests: a terse history builder, a brute-force checker written
// independently of the WGL search, and a generator of linearizable histories.

import type { KvInput, KvOperation, KvOutput } from '../src/index.js';

/** [call, return] for a completed operation; [call] alone for an unknown outcome. */
export type Span = [number, number] | [number];

/** Builds histories: ids are assigned in the order operations are added. */
export class History {
  readonly ops: KvOperation[] = [];

  private add(clientId: number, input: KvInput, output: KvOutput, span: Span): this {
    const id = this.ops.length;
    if (span.length === 1) {
      this.ops.push({ id, clientId, input, call: span[0], status: 'unknown', return: Infinity });
    } else {
      this.ops.push({ id, clientId, input, call: span[0], status: 'ok', return: span[1], output });
    }
    return this;
  }

  put(client: number, key: string, value: string, span: Span): this {
    return this.add(client, { op: 'put', key, value }, { op: 'put' }, span);
  }

  get(client: number, key: string, value: string | null, span: Span): this {
    return this.add(client, { op: 'get', key }, { op: 'get', value }, span);
  }

  cas(client: number, key: string, expected: string | null, value: string, ok: boolean, span: Span): this {
    return this.add(client, { op: 'cas', key, expected, value }, { op: 'cas', ok }, span);
  }

  del(client: number, key: string, deleted: boolean, span: Span): this {
    return this.add(client, { op: 'delete', key }, { op: 'delete', deleted }, span);
  }
}

/**
 * Real-time order, straight from the README's convention: a precedes b when
 * a.return <= b.call, except that of two zero-length operations at the same
 * instant the smaller id goes first.
 */
export function precedes(a: KvOperation, b: KvOperation): boolean {
  if (a === b || a.status !== 'ok') return false;
  if (a.return < b.call) return true;
  if (a.return > b.call) return false;
  const bothInstant = a.call === a.return && b.status === 'ok' && b.call === b.return;
  return !bothInstant || a.id < b.id;
}

/** Applies one operation to a whole store; false if its output is impossible. */
function apply(store: Map<string, string>, op: KvOperation): boolean {
  const input = op.input;
  const current = store.get(input.key) ?? null;
  const out = op.status === 'ok' ? op.output : undefined;
  switch (input.op) {
    case 'put':
      store.set(input.key, input.value);
      return true;
    case 'get':
      return out === undefined || (out.op === 'get' && out.value === current);
    case 'cas': {
      const swaps = current === input.expected;
      if (out !== undefined && !(out.op === 'cas' && out.ok === swaps)) return false;
      if (swaps) store.set(input.key, input.value);
      return true;
    }
    case 'delete':
      if (out !== undefined && !(out.op === 'delete' && out.deleted === (current !== null))) return false;
      store.delete(input.key);
      return true;
  }
}

/**
 * Tries every order of every subset of the operations that contains all 'ok' ones
 * and respects real-time order. Exponential: for a handful of operations only.
 */
export function bruteForceLinearizable(ops: KvOperation[]): boolean {
  const used = new Array<boolean>(ops.length).fill(false);
  const mustUse = ops.filter((op) => op.status === 'ok').length;
  const search = (store: Map<string, string>, usedOk: number): boolean => {
    if (usedOk === mustUse) return true;
    for (let i = 0; i < ops.length; i++) {
      if (used[i]) continue;
      if (ops.some((other, j) => !used[j] && precedes(other, ops[i]))) continue;
      const next = new Map(store);
      if (!apply(next, ops[i])) continue;
      used[i] = true;
      const found = search(next, usedOk + (ops[i].status === 'ok' ? 1 : 0));
      used[i] = false;
      if (found) return true;
    }
    return false;
  };
  return search(new Map(), 0);
}

/** A small seeded generator (mulberry32), so generated histories are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimulatedOp {
  clientId: number;
  input: KvInput;
  call: number;
  /** undefined = unknown outcome. */
  return: number | undefined;
  /** When the operation took effect; undefined = it never did (only for unknown outcomes). */
  at: number | undefined;
}

/**
 * Runs the operations against a real store in the order of their `at` points
 * (ties by position, matching the id tie-break for zero-length operations) and
 * returns the resulting history. `at` must lie inside [call, return], strictly
 * inside when call < return, so the history is linearizable by construction.
 */
export function executeAtPoints(planned: SimulatedOp[]): KvOperation[] {
  const outputs = new Map<number, KvOutput>();
  const store = new Map<string, string>();
  const order = planned
    .map((op, index) => ({ op, index }))
    .filter(({ op }) => op.at !== undefined)
    .sort((a, b) => a.op.at! - b.op.at! || a.index - b.index);
  for (const { op, index } of order) {
    const input = op.input;
    const current = store.get(input.key) ?? null;
    switch (input.op) {
      case 'put':
        store.set(input.key, input.value);
        outputs.set(index, { op: 'put' });
        break;
      case 'get':
        outputs.set(index, { op: 'get', value: current });
        break;
      case 'cas': {
        const ok = current === input.expected;
        if (ok) store.set(input.key, input.value);
        outputs.set(index, { op: 'cas', ok });
        break;
      }
      case 'delete':
        store.delete(input.key);
        outputs.set(index, { op: 'delete', deleted: current !== null });
        break;
    }
  }
  return planned.map((op, id) =>
    op.return === undefined
      ? { id, clientId: op.clientId, input: op.input, call: op.call, status: 'unknown', return: Infinity }
      : { id, clientId: op.clientId, input: op.input, call: op.call, status: 'ok', return: op.return, output: outputs.get(id)! },
  );
}

export interface WorkloadOptions {
  ops: number;
  keys: number;
  clients: number;
  /** Fraction of operations with unknown outcome (half of those take effect). */
  unknownRate: number;
  seed: number;
}

/**
 * A linearizable history like a simulator run produces: each client issues one
 * operation at a time, with random durations that overlap other clients' operations,
 * and each operation takes effect at a random instant inside its interval.
 */
export function randomLinearizableHistory(options: WorkloadOptions): KvOperation[] {
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const keys = Array.from({ length: options.keys }, (_, i) => `k${i}`);
  const written = new Map<string, string[]>();
  const clock = Array.from({ length: options.clients }, () => random() * 10);
  const planned: SimulatedOp[] = [];
  for (let i = 0; i < options.ops; i++) {
    const clientId = Math.floor(random() * options.clients);
    const key = pick(keys);
    const values = written.get(key) ?? [];
    const roll = random();
    let input: KvInput;
    if (roll < 0.3) {
      input = { op: 'put', key, value: `v${i}` };
      values.push(`v${i}`);
      written.set(key, values);
    } else if (roll < 0.75) {
      input = { op: 'get', key };
    } else if (roll < 0.9) {
      const expected = values.length === 0 || random() < 0.2 ? null : pick(values.slice(-3));
      input = { op: 'cas', key, expected, value: `v${i}` };
      values.push(`v${i}`);
      written.set(key, values);
    } else {
      input = { op: 'delete', key };
    }
    const call = clock[clientId];
    const duration = 1 + random() * 20;
    const unknown = random() < options.unknownRate;
    const at = unknown && random() < 0.5 ? undefined : call + duration * (0.01 + 0.98 * random());
    planned.push({ clientId, input, call, return: unknown ? undefined : call + duration, at });
    clock[clientId] = call + duration + random() * 5;
  }
  return executeAtPoints(planned);
}
