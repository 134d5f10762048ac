// Unit tests of the pending-read queue (read-index.ts) and of conf change validation
// and application (confchange.ts).
import { describe, expect, it } from 'vitest';
import { ConfChangeRefusedError, ReadOnly, applyConfChangeTo, confChangeProblem, decodeConfChange, encodeConfChange, type ConfChange } from '../src/index.js';
import { bytes, text } from './harness.js';

describe('ReadOnly: reads waiting for a heartbeat quorum', () => {
  it('acks are counted per read; advance releases the read and every earlier one, in order', () => {
    const ro = new ReadOnly();
    ro.add(5, bytes('r1'), 'a');
    ro.add(6, bytes('r2'), 'b');
    ro.add(6, bytes('r3'), 'a');
    expect(text(ro.lastPendingContext()!)).toBe('r3');
    expect([...ro.recvAck('x', bytes('r2'))!]).toEqual(['x']);
    expect([...ro.recvAck('y', bytes('r2'))!]).toEqual(['x', 'y']);
    expect(ro.recvAck('x', bytes('unknown'))).toBeUndefined();
    const released = ro.advance(bytes('r2'));
    expect(released.map((r) => [text(r.context), r.index, r.from])).toEqual([
      ['r1', 5, 'a'],
      ['r2', 6, 'b'],
    ]);
    expect(ro.size).toBe(1);
    expect(ro.advance(bytes('r1'))).toEqual([]); // already released
  });

  it('the same context is queued once; reset forgets everything', () => {
    const ro = new ReadOnly();
    ro.add(1, bytes('r'), 'a');
    ro.add(2, bytes('r'), 'b');
    expect(ro.size).toBe(1);
    ro.reset();
    expect([ro.size, ro.lastPendingContext()]).toEqual([0, undefined]);
  });
});

describe('Conf changes', () => {
  const conf = { voters: ['a', 'b'], learners: ['l'] };
  const problems: [ConfChange, string | undefined][] = [
    [{ type: 'addNode', nodeId: 'c' }, undefined],
    [{ type: 'addNode', nodeId: 'l' }, undefined], // promotion
    [{ type: 'addNode', nodeId: 'a' }, 'a is already a voter'],
    [{ type: 'addLearner', nodeId: 'c' }, undefined],
    [{ type: 'addLearner', nodeId: 'l' }, 'l is already a learner'],
    [{ type: 'addLearner', nodeId: 'a' }, 'a is a voter; demoting a voter to learner is not supported'],
    [{ type: 'removeNode', nodeId: 'l' }, undefined],
    [{ type: 'removeNode', nodeId: 'b' }, undefined],
    [{ type: 'removeNode', nodeId: 'z' }, 'z is not a member'],
    [{ type: 'addNode', nodeId: '' }, 'conf change names no member'],
  ];
  for (const [cc, want] of problems) {
    it(`confChangeProblem ${cc.type} ${cc.nodeId || "''"} → ${want ?? 'ok'}`, () => {
      expect(confChangeProblem(conf, cc)).toBe(want);
    });
  }

  it('the last voter cannot be removed', () => {
    expect(confChangeProblem({ voters: ['a'], learners: [] }, { type: 'removeNode', nodeId: 'a' })).toMatch(/last voter/);
    expect(applyConfChangeTo({ voters: ['a'], learners: [] }, { type: 'removeNode', nodeId: 'a' })).toEqual({ voters: ['a'], learners: [] });
  });

  it('applyConfChangeTo: add, promote, remove; sorted; stale changes leave the configuration as it is', () => {
    let c = applyConfChangeTo(conf, { type: 'addNode', nodeId: 'c' });
    expect(c).toEqual({ voters: ['a', 'b', 'c'], learners: ['l'] });
    c = applyConfChangeTo(c, { type: 'addNode', nodeId: 'l' });
    expect(c).toEqual({ voters: ['a', 'b', 'c', 'l'], learners: [] });
    c = applyConfChangeTo(c, { type: 'removeNode', nodeId: 'b' });
    expect(c).toEqual({ voters: ['a', 'c', 'l'], learners: [] });
    expect(applyConfChangeTo(c, { type: 'addLearner', nodeId: 'a' })).toEqual(c); // no demotion
    expect(applyConfChangeTo(c, { type: 'removeNode', nodeId: 'zz' })).toEqual(c);
    expect(conf).toEqual({ voters: ['a', 'b'], learners: ['l'] }); // inputs are not modified
  });

  it('encode/decode round trip; malformed data is refused with what it was', () => {
    const cc: ConfChange = { type: 'addLearner', nodeId: 'd', context: '10.0.0.4:7000' };
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    expect(() => decodeConfChange(bytes('{"type":"explode","nodeId":"d"}'))).toThrow(ConfChangeRefusedError);
    expect(() => decodeConfChange(bytes('{"type":"explode","nodeId":"d"}'))).toThrow(/explode/);
  });
});
