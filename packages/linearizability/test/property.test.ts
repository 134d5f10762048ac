// The WGL checker against a brute-force checker on small random histories.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkOperations, kvModel, type KvInput, type KvOperation, type KvOutput, type Model } from '../src/index.js';
import { bruteForceLinearizable, executeAtPoints, type SimulatedOp } from './helpers.js';

const VALUES = ['1', '2', '3'] as const;

/** One operation's raw material; which fields matter depends on `kind` and on the mode. */
const operationArb = fc.record({
  clientId: fc.integer({ min: 0, max: 2 }),
  key: fc.constantFrom('x', 'y'),
  kind: fc.constantFrom('put', 'get', 'cas', 'delete'),
  value: fc.constantFrom(...VALUES),
  expected: fc.constantFrom(null, ...VALUES),
  // Small integer times make equal instants and zero-length operations common.
  call: fc.integer({ min: 0, max: 10 }),
  duration: fc.integer({ min: 0, max: 6 }),
  unknown: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  // Where inside its interval the operation takes effect; for unknown outcomes, whether it does.
  at: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
  tookEffect: fc.boolean(),
  // A random output, used in "random" mode or to corrupt one operation.
  getValue: fc.constantFrom(null, ...VALUES),
  flag: fc.boolean(),
});
type RawOperation = typeof operationArb extends fc.Arbitrary<infer T> ? T : never;

function inputOf(raw: RawOperation, singleKey: boolean): KvInput {
  const key = singleKey ? 'x' : raw.key;
  switch (raw.kind) {
    case 'put':
      return { op: 'put', key, value: raw.value };
    case 'get':
      return { op: 'get', key };
    case 'cas':
      return { op: 'cas', key, expected: raw.expected, value: raw.value };
    default:
      return { op: 'delete', key };
  }
}

function randomOutput(raw: RawOperation): KvOutput {
  switch (raw.kind) {
    case 'put':
      return { op: 'put' };
    case 'get':
      return { op: 'get', value: raw.getValue };
    case 'cas':
      return { op: 'cas', ok: raw.flag };
    default:
      return { op: 'delete', deleted: raw.flag };
  }
}

/**
 * "random": every output drawn at random (mostly illegal).
 * "executed": outputs from running the operations at points inside their intervals
 * (linearizable), then optionally one output replaced by a random one.
 */
const historyArb = fc
  .record({
    raw: fc.array(operationArb, { minLength: 1, maxLength: 7 }),
    singleKey: fc.boolean(),
    mode: fc.constantFrom('random', 'executed'),
    corrupt: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ raw, singleKey, mode, corrupt }): KvOperation[] => {
    if (mode === 'random') {
      return raw.map((r, id) =>
        r.unknown
          ? { id, clientId: r.clientId, input: inputOf(r, singleKey), call: r.call, status: 'unknown', return: Infinity }
          : {
              id,
              clientId: r.clientId,
              input: inputOf(r, singleKey),
              call: r.call,
              status: 'ok',
              return: r.call + r.duration,
              output: randomOutput(r),
            },
      );
    }
    const planned: SimulatedOp[] = raw.map((r) => ({
      clientId: r.clientId,
      input: inputOf(r, singleKey),
      call: r.call,
      return: r.unknown ? undefined : r.call + r.duration,
      at: r.unknown
        ? r.tookEffect
          ? r.call + r.at * 10
          : undefined
        : r.duration === 0
          ? r.call
          : r.call + r.at * r.duration,
    }));
    const ops = executeAtPoints(planned);
    if (corrupt !== undefined) {
      const i = corrupt % ops.length;
      if (ops[i].status === 'ok') ops[i] = { ...ops[i], output: randomOutput(raw[i]) };
    }
    return ops;
  });

describe('WGL agrees with brute force on small histories', () => {
  it('same verdict on every history of up to 7 operations over 1-2 keys', () => {
    const seen = { ok: 0, illegal: 0 };
    fc.assert(
      fc.property(historyArb, (ops) => {
        const expected = bruteForceLinearizable(ops);
        const result = checkOperations(kvModel, ops);
        expect(result.result).toBe(expected ? 'ok' : 'illegal');
        seen[result.result as 'ok' | 'illegal']++;
      }),
      { numRuns: 3000 },
    );
    // Both verdicts must be well represented for the agreement to mean anything.
    expect(seen.ok).toBeGreaterThan(500);
    expect(seen.illegal).toBeGreaterThan(500);
  });

  it('every violation window is illegal on its own (by brute force) and no longer than the history', () => {
    fc.assert(
      fc.property(historyArb, (ops) => {
        const result = checkOperations(kvModel, ops);
        if (result.result !== 'illegal') return;
        const window = result.violation!.window as KvOperation[];
        expect(window.length).toBeGreaterThan(0);
        expect(window.length).toBeLessThanOrEqual(ops.length);
        expect(bruteForceLinearizable(window)).toBe(false);
        const ids = new Set(ops.map((op) => op.id));
        for (const op of window) expect(ids.has(op.id)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

/** The kv register without any optional hook: exercises the checker's generic paths. */
const bareRegister: Model<string | null, KvInput, KvOutput> = {
  init: kvModel.init,
  step: kvModel.step,
  key: kvModel.key,
  describeOperation: kvModel.describeOperation,
};

describe('a model with no optional hooks', () => {
  it('agrees with brute force on single-key histories', () => {
    fc.assert(
      fc.property(historyArb, (ops) => {
        const oneKey = ops.map((op) => ({ ...op, input: { ...op.input, key: 'x' } }) as KvOperation);
        const result = checkOperations(bareRegister, oneKey);
        expect(result.result).toBe(bruteForceLinearizable(oneKey) ? 'ok' : 'illegal');
        expect(result.partitions).toBe(1);
        if (result.result === 'illegal') {
          expect(bruteForceLinearizable(result.violation!.window as KvOperation[])).toBe(false);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('histories linearizable by construction', () => {
  const plannedArb = fc.array(operationArb, { minLength: 1, maxLength: 60 }).map((raw) =>
    executeAtPoints(
      raw.map((r) => ({
        clientId: r.clientId,
        input: inputOf(r, false),
        call: r.call * 3,
        return: r.unknown ? undefined : r.call * 3 + r.duration,
        at: r.unknown
          ? r.tookEffect
            ? r.call * 3 + r.at * 20
            : undefined
          : r.duration === 0
            ? r.call * 3
            : r.call * 3 + r.at * r.duration,
      })),
    ),
  );

  it('are always found linearizable (up to 60 operations, many ties and unknown outcomes)', () => {
    fc.assert(
      fc.property(plannedArb, (ops) => {
        expect(checkOperations(kvModel, ops).result).toBe('ok');
      }),
      { numRuns: 1000 },
    );
  });
});
