import { describe, expect, it } from 'vitest';
import { checkOperations, HistoryRecorder, kvModel, type KvInput, type KvOutput } from '../src/index.js';

function fakeClock(): { now: () => number; advance: (by: number) => void } {
  let time = 0;
  return { now: () => time, advance: (by) => (time += by) };
}

describe('HistoryRecorder', () => {
  it('records invocations and outcomes with the injected clock; failed ones are dropped', () => {
    const clock = fakeClock();
    const rec = new HistoryRecorder<KvInput, KvOutput>(clock.now);
    const a = rec.invoke(1, { op: 'put', key: 'x', value: '1' });
    clock.advance(5);
    const b = rec.invoke(2, { op: 'get', key: 'x' });
    const c = rec.invoke(3, { op: 'put', key: 'x', value: '2' });
    const d = rec.invoke(4, { op: 'put', key: 'x', value: '3' });
    clock.advance(5);
    rec.ok(a, { op: 'put' });
    rec.fail(c);
    rec.unknown(d);
    expect(rec.pending()).toBe(1);
    expect(rec.counts()).toEqual({ ok: 1, fail: 1, unknown: 1 });

    const ops = rec.operations();
    expect(ops.map((op) => op.id)).toEqual([a, b, d]);
    expect(ops[0]).toMatchObject({ clientId: 1, call: 0, return: 10, status: 'ok', output: { op: 'put' } });
    // Still pending: exported as unknown.
    expect(ops[1]).toMatchObject({ clientId: 2, call: 5, return: Infinity, status: 'unknown' });
    expect(ops[1].output).toBeUndefined();
    expect(ops[2]).toMatchObject({ clientId: 4, status: 'unknown', return: Infinity });
    expect(checkOperations(kvModel, ops).result).toBe('ok');
  });

  it('assigns ids in invocation order', () => {
    const rec = new HistoryRecorder<KvInput, KvOutput>(() => 0);
    expect([rec.invoke(1, { op: 'get', key: 'x' }), rec.invoke(1, { op: 'get', key: 'y' })]).toEqual([0, 1]);
  });

  it('finishing an operation twice, or one never invoked, is an error that names it', () => {
    const rec = new HistoryRecorder<KvInput, KvOutput>(() => 0);
    const id = rec.invoke(1, { op: 'get', key: 'x' });
    rec.ok(id, { op: 'get', value: null });
    expect(() => rec.fail(id)).toThrow(/fail\(0\): operation 0 is already finished/);
    expect(() => rec.unknown(7)).toThrow(/unknown\(7\): operation 7 is never invoked/);
  });

  it('refuses a clock that goes backwards', () => {
    const clock = fakeClock();
    const rec = new HistoryRecorder<KvInput, KvOutput>(clock.now);
    clock.advance(10);
    const id = rec.invoke(1, { op: 'get', key: 'x' });
    clock.advance(-1);
    expect(() => rec.ok(id, { op: 'get', value: null })).toThrow(/clock went backwards \(9 after 10\)/);
  });

  it('exports copies: later recording does not change an earlier export', () => {
    const rec = new HistoryRecorder<KvInput, KvOutput>(() => 1);
    const id = rec.invoke(1, { op: 'get', key: 'x' });
    const before = rec.operations();
    rec.ok(id, { op: 'get', value: null });
    expect(before[0].status).toBe('unknown');
    expect(rec.operations()[0].status).toBe('ok');
  });

  it('a recorded stale read is caught', () => {
    const clock = fakeClock();
    const rec = new HistoryRecorder<KvInput, KvOutput>(clock.now);
    const step = (client: number, input: KvInput, output: KvOutput): void => {
      const id = rec.invoke(client, input);
      clock.advance(1);
      rec.ok(id, output);
      clock.advance(1);
    };
    step(1, { op: 'put', key: 'x', value: '1' }, { op: 'put' });
    step(1, { op: 'put', key: 'x', value: '2' }, { op: 'put' });
    step(2, { op: 'get', key: 'x' }, { op: 'get', value: '1' });
    expect(checkOperations(kvModel, rec.operations()).result).toBe('illegal');
  });
});
