import { describe, expect, it } from 'vitest';
import { KvError, KvStore, WatchBuffer, prefixEnd, type WatchEvent } from '../src/index.js';
import { expectKvError, put, recorder } from './helpers.js';

const summary = (events: WatchEvent[]) => events.map((e) => `${e.type} ${e.kv.key}@${e.kv.modRevision}${e.type === 'put' ? `=${e.kv.value}` : ''}`);

describe('watch', () => {
  it('replays history from a past revision, then delivers live events, one call per revision', () => {
    const s = new KvStore();
    s.apply(put('a', '1')); // 2
    s.apply(put('b', '1')); // 3
    s.apply(put('a', '2')); // 4
    const w = recorder();
    const watcher = s.watch({ key: '\0', rangeEnd: '\0', startRevision: 3 }, w.sink);
    expect(w.calls.map(summary)).toEqual([['put b@3=1'], ['put a@4=2']]);
    s.apply({ type: 'deleteRange', key: 'a' }); // 5
    s.apply({ type: 'txn', compare: [], success: [{ put: { key: 'y', value: '1' } }, { put: { key: 'x', value: '1' } }, { deleteRange: { key: 'b' } }], failure: [] }); // 6
    expect(w.calls.slice(2).map(summary)).toEqual([['delete a@5'], ['put y@6=1', 'put x@6=1', 'delete b@6']]);
    expect(w.calls[2][0].kv).toEqual({ key: 'a', value: '', createRevision: 0, modRevision: 5, version: 0, lease: 0 });
    watcher.cancel();
    expect(watcher.canceled).toBe(true);
    expect(watcher.cancelReason).toBe('canceled');
    s.apply(put('a', '3'));
    expect(w.calls).toHaveLength(4);
    expect(s.stats().watchers).toBe(0);
  });

  it('startRevision 0 means from the next revision; a future start waits for it', () => {
    const s = new KvStore();
    s.apply(put('a', '1'));
    const now = recorder();
    const later = recorder();
    s.watch({ key: 'a' }, now.sink);
    s.watch({ key: 'a', startRevision: 5 }, later.sink);
    for (let i = 2; i <= 6; i++) s.apply(put('a', `${i}`)); // revisions 3..7
    expect(now.flat().map((e) => e.kv.modRevision)).toEqual([3, 4, 5, 6, 7]);
    expect(later.flat().map((e) => e.kv.modRevision)).toEqual([5, 6, 7]);
  });

  it('refuses a start revision at or below the compact revision', () => {
    const s = new KvStore();
    for (let i = 0; i < 5; i++) s.apply(put('k', `${i}`)); // 2..6
    s.apply({ type: 'compact', revision: 4 });
    expect(expectKvError(() => s.watch({ key: 'k', startRevision: 4 }, () => {}), 'compacted')).toBe(
      'watch.startRevision: revision 4 has been compacted (compacted revision 4); watch from revision 5 or later',
    );
    expect(s.stats().watchers).toBe(0);
    const w = recorder();
    s.watch({ key: 'k', startRevision: 5, prevKv: true }, w.sink);
    // prevKv of the event at 5 is the version kept by compaction (revision 4).
    expect(w.flat().map((e) => [e.kv.modRevision, e.prevKv?.modRevision])).toEqual([
      [5, 4],
      [6, 5],
    ]);
  });

  it('prefix watch only sees its prefix; prevKv carries the previous version', () => {
    const s = new KvStore();
    const w = recorder();
    s.watch({ key: 'pods/', rangeEnd: prefixEnd('pods/'), prevKv: true }, w.sink);
    s.apply(put('pods/a', '1'));
    s.apply(put('podsX', '1'));
    s.apply(put('pods/a', '2'));
    s.apply({ type: 'deleteRange', key: 'pods/', rangeEnd: prefixEnd('pods/') });
    s.apply(put('pods', '1'));
    expect(w.calls.map(summary)).toEqual([['put pods/a@2=1'], ['put pods/a@4=2'], ['delete pods/a@5']]);
    expect(w.calls.map((c) => c[0].prevKv?.value)).toEqual([undefined, '1', '2']);
  });

  it('replay and live delivery together are exactly-once and in order across many applies', () => {
    const s = new KvStore();
    const live = recorder();
    s.watch({ key: '\0', rangeEnd: '\0', prevKv: true }, live.sink);
    const late: { start: number; rec: ReturnType<typeof recorder> }[] = [];
    let x = 12345;
    const rnd = (n: number) => {
      x = (x * 48271) % 2147483647;
      return x % n;
    };
    for (let i = 0; i < 500; i++) {
      const k = `k${rnd(20)}`;
      if (rnd(4) === 0) s.apply({ type: 'deleteRange', key: k, rangeEnd: `k${rnd(20)}` });
      else s.apply(put(k, `${i}`));
      if (i % 50 === 0) {
        const rec = recorder();
        const start = 1 + rnd(s.revision);
        s.watch({ key: '\0', rangeEnd: '\0', prevKv: true }, rec.sink);
        late.push({ start: s.revision + 1, rec });
        const replayed = recorder();
        s.watch({ key: '\0', rangeEnd: '\0', startRevision: start, prevKv: true }, replayed.sink);
        late.push({ start, rec: replayed });
      }
    }
    const all = live.flat();
    const revs = live.calls.map((c) => c[0].kv.modRevision);
    expect(new Set(revs).size).toBe(revs.length); // one call per revision
    expect([...revs].sort((a, b) => a - b)).toEqual(revs);
    for (const { start, rec } of late) {
      expect(rec.flat()).toEqual(all.filter((e) => e.kv.modRevision >= start));
      expect(rec.calls.length).toBe(new Set(rec.flat().map((e) => e.kv.modRevision)).size);
    }
  });

  it('a sink that throws during live delivery is canceled with the reason; others still get events', () => {
    const s = new KvStore();
    const good = recorder();
    const bad = s.watch({ key: 'a' }, () => {
      throw new Error('stream closed');
    });
    s.watch({ key: 'a' }, good.sink);
    s.apply(put('a', '1'));
    expect(bad.canceled).toBe(true);
    expect(bad.cancelReason).toBe('watch sink threw at revision 2: stream closed');
    expect(good.flat()).toHaveLength(1);
  });

  it('a sink may read the store but not apply to it', () => {
    const s = new KvStore();
    const seen: number[] = [];
    let refusal = '';
    s.watch({ key: 'a' }, () => {
      seen.push(s.range({ key: 'a' }).kvs[0].modRevision);
      try {
        s.apply(put('b', 'x'));
      } catch (err) {
        refusal = (err as KvError).message;
      }
    });
    s.apply(put('a', '1'));
    expect(seen).toEqual([2]);
    expect(refusal).toBe('apply("put"): called from inside a watch sink; apply commands from outside event delivery');
    expect(s.revision).toBe(2);

    // Also during a replay: the replaying watcher could otherwise miss the new revision.
    expect(() => s.watch({ key: 'a', startRevision: 2 }, () => void s.apply(put('c', 'x')))).toThrow(/called from inside a watch sink/);
    expect(s.stats().watchers).toBe(1);
  });

  it('a watcher created inside a sink starts after the revision being delivered', () => {
    const s = new KvStore();
    const inner = recorder();
    const outer = s.watch({ key: 'a' }, () => {
      if (inner.calls.length === 0 && !outer.canceled) {
        s.watch({ key: 'a', startRevision: 2 }, inner.sink);
        outer.cancel();
      }
    });
    s.apply(put('a', '1')); // 2: the new watcher replays it
    s.apply(put('a', '2')); // 3: live
    expect(inner.flat().map((e) => e.kv.modRevision)).toEqual([2, 3]);
  });
});

describe('WatchBuffer', () => {
  it('delivers whole revisions in order to an async consumer', async () => {
    const s = new KvStore();
    const { buffer } = s.watchBuffered({ key: '\0', rangeEnd: '\0' }, { maxPendingEvents: 100 });
    s.apply(put('a', '1'));
    s.apply({ type: 'txn', compare: [], success: [{ put: { key: 'b', value: '1' } }, { put: { key: 'c', value: '1' } }], failure: [] });
    expect(buffer.pendingEvents).toBe(3);
    const got: string[][] = [];
    const consumer = (async () => {
      for await (const batch of buffer) got.push(summary(batch));
    })();
    await new Promise((r) => setImmediate(r));
    s.apply(put('d', '1'));
    await new Promise((r) => setImmediate(r));
    buffer.close();
    await consumer;
    expect(got).toEqual([['put a@2=1'], ['put b@3=1', 'put c@3=1'], ['put d@4=1']]);
  });

  it('cuts off a slow consumer with a clear error and cancels the watcher', async () => {
    const s = new KvStore();
    const { watcher, buffer } = s.watchBuffered({ key: 'k/', rangeEnd: prefixEnd('k/') }, { maxPendingEvents: 5 });
    s.apply(put('k/1', 'a')); // 2
    s.apply(put('k/2', 'a')); // 3
    expect(buffer.pull().map(summary)).toEqual([['put k/1@2=a'], ['put k/2@3=a']]);
    for (let i = 0; i < 5; i++) s.apply(put(`k/${i}`, 'b')); // 4..8 fill the buffer
    expect(buffer.closed).toBe(false);
    s.apply(put('k/x', 'c')); // 9: one too many
    expect(buffer.closed).toBe(true);
    expect(buffer.error).toBeInstanceOf(KvError);
    expect(buffer.error?.code).toBe('slow_watcher');
    expect(buffer.error?.message).toBe('slow watcher: more than 5 events pending, cut off; re-watch from revision 4');
    expect(buffer.resumeRevision).toBe(4);
    expect(buffer.pendingEvents).toBe(0);
    expect(watcher.canceled).toBe(true);
    expect(watcher.cancelReason).toBe(buffer.error?.message);
    expect(s.stats().watchers).toBe(0);
    await expect(
      (async () => {
        for await (const _ of buffer) void _;
      })(),
    ).rejects.toThrow('slow watcher: more than 5 events pending');

    // Re-watching from the resume revision loses nothing.
    const again = recorder();
    s.watch({ key: 'k/', rangeEnd: prefixEnd('k/'), startRevision: buffer.resumeRevision }, again.sink);
    expect(again.flat().map((e) => e.kv.modRevision)).toEqual([4, 5, 6, 7, 8, 9]);
  });

  it('an overflow during the history replay cancels the watcher at once', () => {
    const s = new KvStore({ maxWatcherPendingEvents: 3 });
    for (let i = 0; i < 10; i++) s.apply(put('k', `${i}`));
    const { watcher, buffer } = s.watchBuffered({ key: 'k', startRevision: 2 });
    expect(buffer.error?.message).toBe('slow watcher: more than 3 events pending, cut off; re-watch from revision 2');
    expect(watcher.canceled).toBe(true);
    expect(s.stats().watchers).toBe(0);
  });

  it('accepts one revision larger than the bound into an empty buffer', () => {
    const s = new KvStore();
    s.apply({ type: 'leaseGrant', id: 1, ttlSeconds: 5 });
    for (let i = 0; i < 10; i++) s.apply(put(`k${i}`, 'v', { lease: 1 }));
    const { buffer } = s.watchBuffered({ key: '\0', rangeEnd: '\0' }, { maxPendingEvents: 4 });
    s.apply({ type: 'leaseRevoke', id: 1 });
    expect(buffer.closed).toBe(false);
    expect(buffer.pull()[0]).toHaveLength(10);
    expect(() => new WatchBuffer({ maxPendingEvents: 0 })).toThrow('maxPendingEvents: must be an integer >= 1 (got 0)');
  });
});
