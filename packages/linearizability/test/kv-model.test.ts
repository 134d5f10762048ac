import { describe, expect, it } from 'vitest';
import { kvModel, type KvInput, type KvOutput } from '../src/index.js';
import { History } from './helpers.js';

const step = (state: string | null, input: KvInput, output?: KvOutput) => kvModel.step(state, input, output);

describe('kvModel.step: one register per key', () => {
  it('put always succeeds and sets the value', () => {
    expect(step(null, { op: 'put', key: 'x', value: '1' }, { op: 'put' })).toBe('1');
    expect(step('0', { op: 'put', key: 'x', value: '1' }, undefined)).toBe('1');
  });

  it('get must return the current value (null = absent)', () => {
    expect(step('1', { op: 'get', key: 'x' }, { op: 'get', value: '1' })).toBe('1');
    expect(step('1', { op: 'get', key: 'x' }, { op: 'get', value: '2' })).toBeUndefined();
    expect(step(null, { op: 'get', key: 'x' }, { op: 'get', value: null })).toBeNull();
    expect(step(null, { op: 'get', key: 'x' }, { op: 'get', value: 'null' })).toBeUndefined();
  });

  it('cas succeeds exactly when the current value is the expected one; expected null = absent', () => {
    const cas = (expected: string | null): KvInput => ({ op: 'cas', key: 'x', expected, value: 'new' });
    expect(step('a', cas('a'), { op: 'cas', ok: true })).toBe('new');
    expect(step('a', cas('a'), { op: 'cas', ok: false })).toBeUndefined();
    expect(step('b', cas('a'), { op: 'cas', ok: false })).toBe('b');
    expect(step('b', cas('a'), { op: 'cas', ok: true })).toBeUndefined();
    expect(step(null, cas(null), { op: 'cas', ok: true })).toBe('new');
    expect(step('a', cas(null), { op: 'cas', ok: false })).toBe('a');
    expect(step('a', cas(null), { op: 'cas', ok: true })).toBeUndefined();
  });

  it('an unknown cas swaps when it would have succeeded', () => {
    const input: KvInput = { op: 'cas', key: 'x', expected: 'a', value: 'new' };
    expect(step('a', input)).toBe('new');
    expect(step('b', input)).toBe('b');
  });

  it('delete reports whether the key was present, and leaves it absent', () => {
    const del: KvInput = { op: 'delete', key: 'x' };
    expect(step('1', del, { op: 'delete', deleted: true })).toBeNull();
    expect(step('1', del, { op: 'delete', deleted: false })).toBeUndefined();
    expect(step(null, del, { op: 'delete', deleted: false })).toBeNull();
    expect(step(null, del, { op: 'delete', deleted: true })).toBeUndefined();
    expect(step('1', del)).toBeNull();
  });

  it('readOnly: gets, failed cas and deletes of an absent key', () => {
    expect(kvModel.readOnly!({ op: 'get', key: 'x' }, { op: 'get', value: '1' })).toBe(true);
    expect(kvModel.readOnly!({ op: 'cas', key: 'x', expected: 'a', value: 'b' }, { op: 'cas', ok: false })).toBe(true);
    expect(kvModel.readOnly!({ op: 'cas', key: 'x', expected: 'a', value: 'b' }, { op: 'cas', ok: true })).toBe(false);
    expect(kvModel.readOnly!({ op: 'delete', key: 'x' }, { op: 'delete', deleted: false })).toBe(true);
    expect(kvModel.readOnly!({ op: 'delete', key: 'x' }, { op: 'delete', deleted: true })).toBe(false);
    expect(kvModel.readOnly!({ op: 'put', key: 'x', value: '1' }, { op: 'put' })).toBe(false);
  });

  it('state keys tell null from the string "null"', () => {
    expect(kvModel.key(null)).not.toBe(kvModel.key('null'));
  });
});

describe('kvModel.describeOperation', () => {
  it('reads like the call and its result', () => {
    const h = new History()
      .put(1, 'x', '3', [0, 1])
      .get(1, 'x', '3', [0, 1])
      .get(1, 'x', null, [0, 1])
      .cas(1, 'x', '1', '2', false, [0, 1])
      .cas(1, 'x', null, '2', true, [0, 1])
      .del(1, 'x', true, [0, 1])
      .put(1, 'x', 'has space', [0]);
    expect(h.ops.map((op) => kvModel.describeOperation(op))).toEqual([
      'put(x, 3)',
      'get(x) -> 3',
      'get(x) -> null',
      'cas(x, 1->2) -> false',
      'cas(x, null->2) -> true',
      'delete(x) -> true',
      'put(x, "has space") -> ?',
    ]);
  });
});

describe('kvModel.partition', () => {
  it('splits by key in order of first appearance and leaves out gets with unknown outcome', () => {
    const h = new History()
      .put(1, 'y', '1', [0, 1])
      .put(1, 'x', '1', [0, 1])
      .get(2, 'x', '1', [2])
      .get(2, 'y', '1', [2, 3]);
    const parts = kvModel.partition!(h.ops);
    expect(parts.map((p) => p.map((op) => op.id))).toEqual([[0, 3], [1]]);
    expect(parts.map((p) => kvModel.partitionKey!(p))).toEqual(['y', 'x']);
  });

  it('writes of values nobody reads become one placeholder; observed values and ids stay', () => {
    const h = new History()
      .put(1, 'x', 'a', [0, 1])
      .put(1, 'x', 'b', [2, 3])
      .cas(1, 'x', 'b', 'c', true, [4, 5])
      .get(2, 'x', 'b', [6, 7]);
    const [part] = kvModel.partition!(h.ops);
    expect(part.map((op) => op.id)).toEqual([0, 1, 2, 3]);
    const values = part.map((op) => ('value' in op.input ? op.input.value : undefined));
    expect(values[1]).toBe('b');
    expect(values[0]).toBe(values[2]);
    expect(values[0]).not.toBe('a');
    expect(h.ops[0].input).toEqual({ op: 'put', key: 'x', value: 'a' }); // the caller's ops are untouched
  });
});

describe('kvModel.statesAfter', () => {
  it('absent, the written values the window mentions, and one stand-in for the rest', () => {
    const before = new History().put(1, 'x', 'a', [0, 1]).put(1, 'x', 'b', [2, 3]).put(1, 'x', 'c', [4, 5]).cas(1, 'x', 'z', 'd', false, [6, 7]).ops;
    const window = new History().get(2, 'x', 'b', [8, 9]).ops;
    const states = kvModel.statesAfter!(before, window);
    expect(states).toContain(null);
    expect(states).toContain('b');
    expect(states).not.toContain('d'); // that cas failed: it wrote nothing
    expect(states.length).toBe(3);
  });
});
