import { describe, expect, it } from 'vitest';
import { checkOperations, kvModel } from '../src/index.js';
import { bruteForceLinearizable, History } from './helpers.js';

function verdict(h: History): string {
  const result = checkOperations(kvModel, h.ops).result;
  // Every hand-written case is small enough to cross-check.
  expect(bruteForceLinearizable(h.ops)).toBe(result === 'ok');
  return result;
}

describe('linearizable histories', () => {
  it('an empty history is linearizable, with no partitions', () => {
    expect(checkOperations(kvModel, [])).toMatchObject({ result: 'ok', ops: 0, partitions: 0 });
  });

  it('a sequential history of put, get and delete', () => {
    const h = new History()
      .put(1, 'x', '1', [0, 1])
      .get(2, 'x', '1', [2, 3])
      .del(1, 'x', true, [4, 5])
      .get(2, 'x', null, [6, 7])
      .del(2, 'x', false, [8, 9]);
    expect(verdict(h)).toBe('ok');
  });

  it('a get overlapping a put may see the old or the new value', () => {
    const h = new History()
      .put(1, 'x', '1', [0, 10])
      .get(2, 'x', null, [1, 2])
      .get(3, 'x', '1', [3, 4])
      .get(2, 'x', '1', [5, 6]);
    expect(verdict(h)).toBe('ok');
  });

  it('two concurrent puts may take effect in either order', () => {
    const h = new History()
      .put(1, 'x', '1', [0, 10])
      .put(2, 'x', '2', [0, 10])
      .get(3, 'x', '1', [11, 12])
      .get(3, 'x', '1', [13, 14]);
    expect(verdict(h)).toBe('ok');
  });

  it('a chain of compare-and-swaps, including expected null = absent', () => {
    const h = new History()
      .cas(1, 'x', null, 'a', true, [0, 1])
      .cas(2, 'x', null, 'b', false, [2, 3])
      .cas(1, 'x', 'a', 'b', true, [4, 5])
      .cas(2, 'x', 'a', 'c', false, [6, 7])
      .cas(1, 'x', 'b', 'c', true, [8, 9])
      .get(2, 'x', 'c', [10, 11]);
    expect(verdict(h)).toBe('ok');
  });

  it('two concurrent cas from the same value: one wins, one loses', () => {
    const h = new History()
      .put(1, 'x', '1', [0, 1])
      .cas(1, 'x', '1', '2', false, [2, 6])
      .cas(2, 'x', '1', '3', true, [3, 5])
      .get(3, 'x', '3', [7, 8]);
    expect(verdict(h)).toBe('ok');
  });

  it('delete of an absent key is legal with deleted=false', () => {
    const h = new History().del(1, 'x', false, [0, 1]).put(1, 'x', '1', [2, 3]).del(2, 'x', true, [4, 5]).del(2, 'x', false, [6, 7]);
    expect(verdict(h)).toBe('ok');
  });

  it('an unknown put that took effect', () => {
    const h = new History().put(1, 'x', '1', [0]).get(2, 'x', '1', [5, 6]);
    expect(verdict(h)).toBe('ok');
  });

  it('an unknown put that did not take effect', () => {
    const h = new History().put(1, 'x', '1', [0]).get(2, 'x', null, [5, 6]).get(2, 'x', null, [7, 8]);
    expect(verdict(h)).toBe('ok');
  });

  it('an unknown put may take effect long after it was invoked', () => {
    const h = new History().put(1, 'x', '1', [0]).get(2, 'x', null, [1, 2]).get(2, 'x', '1', [3, 4]);
    expect(verdict(h)).toBe('ok');
  });

  it('unknown cas and delete may or may not take effect', () => {
    const h = new History()
      .put(1, 'x', 'a', [0, 1])
      .cas(1, 'x', 'a', 'b', true, [2])
      .get(2, 'x', 'b', [3, 4])
      .del(3, 'x', true, [5])
      .get(2, 'x', 'b', [6, 7])
      .get(2, 'x', null, [8, 9]);
    expect(verdict(h)).toBe('ok');
  });

  it('an unknown get constrains nothing', () => {
    const h = new History().put(1, 'x', '1', [0, 1]).get(2, 'x', 'never', [2]);
    expect(verdict(h)).toBe('ok');
  });

  it('independent keys are checked as separate partitions', () => {
    const h = new History().put(1, 'x', '1', [0, 1]).put(1, 'y', '2', [2, 3]).get(2, 'x', '1', [4, 5]).get(2, 'y', '2', [4, 5]);
    expect(checkOperations(kvModel, h.ops)).toMatchObject({ result: 'ok', ops: 4, partitions: 2 });
  });
});

describe('non-linearizable histories', () => {
  it('stale read: put 1, then put 2, then get returns 1', () => {
    const h = new History().put(1, 'x', '1', [0, 1]).put(1, 'x', '2', [2, 3]).get(2, 'x', '1', [4, 5]);
    expect(verdict(h)).toBe('illegal');
  });

  it('lost write: an acknowledged put that later reads never see', () => {
    const h = new History().put(1, 'x', '1', [0, 1]).get(2, 'x', null, [2, 3]).get(3, 'x', null, [4, 5]);
    expect(verdict(h)).toBe('illegal');
  });

  it('read of a value never written', () => {
    const h = new History().put(1, 'x', '1', [0, 1]).get(2, 'x', '7', [2, 3]);
    expect(verdict(h)).toBe('illegal');
  });

  it('a cas that succeeded on a value that was not current', () => {
    const h = new History().put(1, 'x', '1', [0, 1]).put(1, 'x', '2', [2, 3]).cas(2, 'x', '1', '3', true, [4, 5]);
    expect(verdict(h)).toBe('illegal');
  });

  it('two concurrent cas from the same expected value both succeeding', () => {
    const h = new History().put(1, 'x', '1', [0, 1]).cas(1, 'x', '1', '2', true, [2, 5]).cas(2, 'x', '1', '3', true, [3, 6]);
    expect(verdict(h)).toBe('illegal');
  });

  it('an unknown put cannot take effect twice', () => {
    const h = new History().put(1, 'x', '1', [0]).get(2, 'x', '1', [1, 2]).get(2, 'x', null, [3, 4]);
    expect(verdict(h)).toBe('illegal');
  });

  it('a delete that reports deleting an absent key', () => {
    const h = new History().del(1, 'x', true, [0, 1]);
    expect(verdict(h)).toBe('illegal');
  });

  it('the violation names the failing key among healthy ones', () => {
    const h = new History()
      .put(1, 'x', '1', [0, 1])
      .get(2, 'x', '1', [2, 3])
      .put(1, 'y', '1', [0, 1])
      .put(1, 'y', '2', [2, 3])
      .get(2, 'y', '1', [4, 5]);
    const result = checkOperations(kvModel, h.ops);
    expect(result.result).toBe('illegal');
    expect(result.violation?.partitionKey).toBe('y');
  });
});

describe('time convention: a return and a call at the same instant are ordered, return first', () => {
  it('a get invoked at the instant a put returned must see the put', () => {
    const h = new History().put(1, 'x', '1', [0, 5]).get(2, 'x', null, [5, 6]);
    expect(verdict(h)).toBe('illegal');
  });

  it('a get invoked just before the put returned may miss it', () => {
    const h = new History().put(1, 'x', '1', [0, 5]).get(2, 'x', null, [4.999, 6]);
    expect(verdict(h)).toBe('ok');
  });

  it('a get that returned at the instant a put was invoked cannot see it', () => {
    const h = new History().get(2, 'x', '1', [0, 5]).put(1, 'x', '1', [5, 6]);
    expect(verdict(h)).toBe('illegal');
  });

  it('zero-length operations at the same instant are ordered by id', () => {
    const putFirst = new History().put(1, 'x', '1', [5, 5]).get(2, 'x', null, [5, 5]);
    expect(verdict(putFirst)).toBe('illegal');
    const getFirst = new History().get(2, 'x', null, [5, 5]).put(1, 'x', '1', [5, 5]);
    expect(verdict(getFirst)).toBe('ok');
  });

  it('a zero-length operation comes after returns and before calls at its instant', () => {
    const h = new History().put(1, 'x', '1', [0, 5]).get(2, 'x', '1', [5, 5]).put(3, 'x', '2', [5, 9]).get(4, 'x', '1', [5, 5]);
    // Both zero-length gets follow put 1 (returned at 5) and precede put 2 (called at 5).
    expect(verdict(h)).toBe('ok');
    const late = new History().put(1, 'x', '1', [0, 5]).put(3, 'x', '2', [5, 9]).get(4, 'x', '2', [5, 5]);
    expect(verdict(late)).toBe('illegal');
  });
});

describe('malformed histories are rejected with the operation named', () => {
  it('duplicate ids', () => {
    const h = new History().put(1, 'x', '1', [0, 1]);
    expect(() => checkOperations(kvModel, [...h.ops, ...h.ops])).toThrow(/operation 0: id is not unique/);
  });

  it('return before call', () => {
    const h = new History().put(1, 'x', '1', [5, 1]);
    expect(() => checkOperations(kvModel, h.ops)).toThrow(/operation 0: return must be >= call/);
  });

  it('an ok operation without output', () => {
    const h = new History().put(1, 'x', '1', [0, 1]);
    delete h.ops[0].output;
    expect(() => checkOperations(kvModel, h.ops)).toThrow(/operation 0: an 'ok' operation needs an output/);
  });

  it('an output of the wrong kind', () => {
    const h = new History().put(1, 'x', '1', [0, 1]);
    h.ops[0].output = { op: 'get', value: '1' };
    expect(() => checkOperations(kvModel, h.ops)).toThrow(/output of a put on key "x" is a get output/);
  });
});
