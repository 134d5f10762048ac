// The chaos run's checks on small hand-made histories: each must pass a correct one and
// catch the fault it exists for.
import { describe, expect, it } from 'vitest';
import { checkAckedWrites, checkRevisions, checkWatches, replay, sameState, type KeyState, type WatchInput } from '../../scripts/src/chaos/checks.js';
import type { WatchedEvent } from '../../scripts/src/chaos/watch.js';
import type { OpRecord } from '../../scripts/src/chaos/workload.js';

let nextId = 0;
function op(o: Partial<OpRecord> & Pick<OpRecord, 'type' | 'key' | 'callMs'>): OpRecord {
  return { id: nextId++, client: 0, member: 'm1', incarnation: 0, phase: 'run', outcome: 'ok', returnMs: o.callMs + 1, ...o };
}

function put(key: string, value: string, rev: number, createRevision = rev, version = 1): WatchedEvent {
  return { type: 'PUT', key, value, createRevision, modRevision: rev, version, member: 'm1' };
}

function del(key: string, rev: number): WatchedEvent {
  return { type: 'DELETE', key, value: '', createRevision: 0, modRevision: rev, version: 0, member: 'm1' };
}

function watch(id: number, events: WatchedEvent[]): WatchInput {
  return { id, home: `m${id}`, events, lastRevision: Math.max(1, ...events.map((e) => e.modRevision)), reconnects: 0, problems: [] };
}

// Revision 1 is the empty store; the run writes revisions 2..5.
const records = (): OpRecord[] => {
  nextId = 0;
  return [
    op({ type: 'put', key: 'a', value: 'v1', revision: 2, callMs: 0 }),
    op({ type: 'put', key: 'a', value: 'v2', revision: 3, callMs: 10 }),
    op({ type: 'cas', key: 'b', value: 'w1', expected: null, result: true, revision: 4, callMs: 20 }),
    op({ type: 'delete', key: 'a', result: true, revision: 5, callMs: 30 }),
    op({ type: 'get', key: 'b', result: 'w1', revision: 5, modRevision: 4, callMs: 40 }),
  ];
};
const good = (): WatchedEvent[] => [put('a', 'v1', 2), put('a', 'v2', 3, 2, 2), put('b', 'w1', 4), del('a', 5)];

describe('checkWatches', () => {
  it('accepts watches that saw every revision once, and replays to the final state', () => {
    const c = checkWatches([watch(1, good()), watch(2, good())], 1, 5, records());
    expect(c.examples).toEqual([]);
    expect(c.ok).toBe(true);
    const final: KeyState[] = [{ key: 'b', value: 'w1', createRevision: 4, modRevision: 4, version: 1 }];
    expect(sameState(replay(c.history, 5), final)).toBeUndefined();
    expect(sameState(replay(c.history, 3), final)).toMatch(/^a: history gives/);
  });

  it('catches a gap, a duplicate, a disagreement, a write applied twice and a write nobody issued', () => {
    const [e2, e3, e4, e5] = good();
    expect(checkWatches([watch(1, [e2, e4, e5])], 1, 5, records())).toMatchObject({ ok: false, gaps: 1 });
    expect(checkWatches([watch(1, [e2, e3, e3, e4, e5])], 1, 5, records())).toMatchObject({ ok: false, duplicates: 1 });
    expect(checkWatches([watch(1, [e2, e4, e3, e5])], 1, 5, records())).toMatchObject({ ok: false, outOfOrder: 1 });
    expect(checkWatches([watch(1, good()), watch(2, [e2, put('a', 'v9', 3, 2, 2), e4, e5])], 1, 5, records())).toMatchObject({ ok: false, disagreements: 1 });
    expect(checkWatches([watch(1, [e2, e3, e4, e5, put('a', 'v1', 6)])], 1, 6, records())).toMatchObject({ ok: false, phantom: 1 });
    expect(checkWatches([watch(1, [e2, e3, e4, e5, put('c', 'nobody', 6)])], 1, 6, records())).toMatchObject({ ok: false, phantom: 1 });
    expect(checkWatches([watch(1, [e2, put('a', 'v2', 3, 3, 1), e4, e5])], 1, 5, records())).toMatchObject({ ok: false, inconsistent: 1 });
    // A watch that stopped short of the final revision.
    expect(checkWatches([watch(1, [e2, e3, e4])], 1, 5, records()).ok).toBe(false);
  });
});

describe('checkAckedWrites', () => {
  const rangeAt = async (): Promise<KeyState | undefined> => undefined;
  const final: KeyState[] = [{ key: 'b', value: 'w1', createRevision: 4, modRevision: 4, version: 1 }];

  it('confirms every acknowledged write at its revision and the final state', async () => {
    const c = checkWatches([watch(1, good())], 1, 5, records());
    const r = await checkAckedWrites(records(), c.history, final, ['a', 'b'], rangeAt);
    expect(r).toMatchObject({ lost: 0, acked: 4, confirmed: 4 });
  });

  it('counts an acknowledged write whose revision holds something else, and a final state from before the last ack', async () => {
    const ops = records();
    const [e2, e3, e4, e5] = good();
    const history = checkWatches([watch(1, [e2, e3, e4, e5])], 1, 5, ops).history;
    history.set(3, put('a', 'other', 3, 2, 2));
    expect((await checkAckedWrites(ops, history, final, ['a', 'b'], rangeAt)).lost).toBe(1);
    const stale: KeyState[] = [{ key: 'a', value: 'v1', createRevision: 2, modRevision: 2, version: 1 }, ...final];
    const r = await checkAckedWrites(ops, checkWatches([watch(1, good())], 1, 5, ops).history, stale, ['a', 'b'], rangeAt);
    expect(r.lost).toBe(1);
    expect(r.examples[0]).toMatch(/a is v1@2 at the end|before the last acknowledged write/);
  });

  it('lets a later write of unknown outcome explain the final state, but not an acknowledged one', async () => {
    const ops = records();
    ops.push(op({ type: 'put', key: 'b', value: 'w2', outcome: 'unknown', callMs: 50, returnMs: undefined }));
    const events = [...good(), put('b', 'w2', 6, 4, 2)];
    const history = checkWatches([watch(1, events)], 1, 6, ops).history;
    const end: KeyState[] = [{ key: 'b', value: 'w2', createRevision: 4, modRevision: 6, version: 2 }];
    expect((await checkAckedWrites(ops, history, end, ['a', 'b'], rangeAt)).lost).toBe(0);
    ops[ops.length - 1].outcome = 'fail';
    expect((await checkAckedWrites(ops, history, end, ['a', 'b'], rangeAt)).lost).toBe(1);
  });
});

describe('checkRevisions', () => {
  it('passes a history whose revisions only move forward', () => {
    expect(checkRevisions(records())).toMatchObject({ ok: true, perMember: 0, realTime: 0, perKey: 0, duplicateRevisions: 0 });
  });

  it('catches a read that went back in time, writes out of order on a key, and two writes at one revision', () => {
    const back = [...records(), op({ type: 'get', key: 'a', result: 'v2', revision: 3, modRevision: 3, callMs: 60, member: 'm2' })];
    expect(checkRevisions(back)).toMatchObject({ ok: false, realTime: 1, perMember: 0 });
    const sameMember = [...records(), op({ type: 'get', key: 'a', result: 'v2', revision: 3, callMs: 60 })];
    expect(checkRevisions(sameMember)).toMatchObject({ ok: false, perMember: 1 });
    // Restarted in between: the per-member check compares one incarnation only.
    const restarted = [...records(), op({ type: 'get', key: 'a', result: 'v2', revision: 3, callMs: 60, incarnation: 1, serializable: true })];
    expect(checkRevisions(restarted)).toMatchObject({ ok: true });
    const keyOrder = [...records(), op({ type: 'put', key: 'a', value: 'v3', revision: 3, callMs: 60, member: 'm3' })];
    expect(checkRevisions(keyOrder)).toMatchObject({ ok: false, perKey: 1, duplicateRevisions: 1 });
  });
});
