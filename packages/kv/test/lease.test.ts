import { describe, expect, it } from 'vitest';
import { KvStore, LeaseClock } from '../src/index.js';
import { expectKvError, expectRefused, keys, put, recorder } from './helpers.js';

describe('leases in the state machine', () => {
  it('grant, attach keys, revoke deletes every attached key in one revision', () => {
    const s = new KvStore();
    expect(s.apply({ type: 'leaseGrant', id: 10, ttlSeconds: 5 })).toEqual({ type: 'leaseGrant', revision: 1, id: 10, ttlSeconds: 5 });
    s.apply({ type: 'leaseGrant', id: 11, ttlSeconds: 60 });
    s.apply(put('n/b', '1', { lease: 10 })); // 2
    s.apply(put('n/a', '1', { lease: 10 })); // 3
    s.apply(put('n/c', '1', { lease: 11 })); // 4
    s.apply(put('free', '1')); // 5
    expect(s.leases()).toEqual([
      { id: 10, ttlSeconds: 5, keys: ['n/a', 'n/b'] },
      { id: 11, ttlSeconds: 60, keys: ['n/c'] },
    ]);
    expect(s.apply({ type: 'leaseKeepAlive', id: 10 })).toEqual({ type: 'leaseKeepAlive', revision: 5, id: 10, ttlSeconds: 5 });

    const w = recorder();
    s.watch({ key: '\0', rangeEnd: '\0' }, w.sink);
    expect(s.apply({ type: 'leaseRevoke', id: 10 })).toEqual({ type: 'leaseRevoke', revision: 6 });
    expect(keys(s, '\0', '\0')).toEqual(['free', 'n/c']);
    expect(s.leaseTimeToLive(10)).toBeUndefined();
    expect(s.leaseTimeToLive(11)).toEqual({ id: 11, ttlSeconds: 60, keys: ['n/c'] });
    expect(w.calls).toHaveLength(1);
    expect(w.calls[0].map((e) => [e.type, e.kv.key, e.kv.modRevision])).toEqual([
      ['delete', 'n/a', 6],
      ['delete', 'n/b', 6],
    ]);
  });

  it('revoking a lease with no keys changes no revision', () => {
    const s = new KvStore();
    s.apply({ type: 'leaseGrant', id: 1, ttlSeconds: 5 });
    expect(s.apply({ type: 'leaseRevoke', id: 1 })).toEqual({ type: 'leaseRevoke', revision: 1 });
    expect(s.leases()).toEqual([]);
  });

  it('re-putting a key moves or drops its lease; deleting it detaches it', () => {
    const s = new KvStore();
    s.apply({ type: 'leaseGrant', id: 1, ttlSeconds: 5 });
    s.apply({ type: 'leaseGrant', id: 2, ttlSeconds: 5 });
    s.apply(put('k', 'v', { lease: 1 }));
    s.apply(put('k', 'v', { lease: 2 }));
    expect(s.leases().map((l) => l.keys)).toEqual([[], ['k']]);
    s.apply(put('k', 'v'));
    expect(s.leases().map((l) => l.keys)).toEqual([[], []]);
    s.apply(put('k', 'v', { lease: 1 }));
    s.apply({ type: 'deleteRange', key: 'k' });
    expect(s.leases().map((l) => l.keys)).toEqual([[], []]);
    s.apply({ type: 'leaseRevoke', id: 1 });
    expect(s.range({ key: 'k', revision: 5 }).kvs[0].lease).toBe(1); // history keeps the lease it had
  });

  it('put with an unknown lease is refused and changes nothing', () => {
    const s = new KvStore();
    s.apply(put('a', '1'));
    expect(expectRefused(s, put('a', '2', { lease: 42 }), 'lease_not_found')).toBe('put.lease: lease 42 not found');
    expect(s.range({ key: 'a' }).kvs[0].value).toBe('1');
  });

  it('lease ids must be unique and positive; unknown ids are refused', () => {
    const s = new KvStore();
    s.apply({ type: 'leaseGrant', id: 3, ttlSeconds: 5 });
    expect(expectRefused(s, { type: 'leaseGrant', id: 3, ttlSeconds: 9 }, 'lease_exists')).toBe('leaseGrant.id: lease 3 already exists');
    expect(expectRefused(s, { type: 'leaseGrant', id: 0, ttlSeconds: 9 }, 'invalid')).toBe('leaseGrant.id: must be an integer >= 1 (got 0)');
    expect(expectRefused(s, { type: 'leaseGrant', id: 4, ttlSeconds: 0 }, 'invalid')).toBe('leaseGrant.ttlSeconds: must be an integer >= 1 (got 0)');
    expect(expectRefused(s, { type: 'leaseRevoke', id: 4 }, 'lease_not_found')).toBe('leaseRevoke.id: lease 4 not found');
    expect(expectRefused(s, { type: 'leaseKeepAlive', id: 4 }, 'lease_not_found')).toBe('leaseKeepAlive.id: lease 4 not found');
  });
});

describe('LeaseClock (leader-only timers, time passed in)', () => {
  it('reports a lease expired once its TTL has passed without keep-alive', () => {
    const c = new LeaseClock();
    c.grant(1, 10, 1_000);
    c.grant(2, 5, 1_000);
    expect(c.expired(5_999)).toEqual([]);
    expect(c.remainingMs(2, 5_999)).toBe(1);
    expect(c.expired(6_000)).toEqual([2]);
    c.revoke(2); // the leader applied the revoke
    c.keepAlive(1, 9_000);
    expect(c.expired(11_000)).toEqual([]);
    expect(c.remainingMs(1, 11_000)).toBe(8_000);
    expect(c.expired(19_000)).toEqual([1]);
    expect(c.remainingMs(1, 25_000)).toBe(0);
    expect(c.remainingMs(99, 0)).toBeUndefined();
  });

  it('does not repeat an expiry while its revoke is in flight, then retries', () => {
    const c = new LeaseClock({ revokeRetryMs: 3_000 });
    c.grant(1, 1, 0);
    c.grant(2, 2, 0);
    expect(c.expired(5_000)).toEqual([1, 2]); // earliest deadline first
    expect(c.expired(6_000)).toEqual([]);
    expect(c.expired(8_000)).toEqual([1, 2]); // proposal presumably lost: retry
    c.revoke(1);
    c.revoke(1); // idempotent
    expect(c.expired(20_000)).toEqual([2]);
  });

  it('resetAll gives every lease a fresh full TTL (new leader)', () => {
    const c = new LeaseClock();
    c.grant(1, 5, 0);
    c.grant(9, 5, 0);
    c.resetAll(
      [
        { id: 1, ttlSeconds: 5 },
        { id: 2, ttlSeconds: 30 },
      ],
      100_000,
    );
    expect(c.size).toBe(2);
    expect(c.expired(104_999)).toEqual([]);
    expect(c.remainingMs(2, 100_000)).toBe(30_000);
    expect(c.remainingMs(9, 100_000)).toBeUndefined();
    expect(c.expired(105_000)).toEqual([1]);
  });

  it('keepAlive of an unknown lease is an error', () => {
    expect(expectKvError(() => new LeaseClock().keepAlive(7, 0), 'lease_not_found')).toBe('lease 7 not found in the lease clock');
  });

  it('drives the store: expired leases are revoked through apply', () => {
    const s = new KvStore();
    const c = new LeaseClock();
    for (const [id, ttl] of [
      [1, 2],
      [2, 10],
    ]) {
      s.apply({ type: 'leaseGrant', id, ttlSeconds: ttl });
      c.grant(id, ttl, 0);
    }
    s.apply(put('node/a', 'up', { lease: 1 }));
    s.apply(put('node/b', 'up', { lease: 2 }));
    for (const id of c.expired(3_000)) {
      s.apply({ type: 'leaseRevoke', id });
      c.revoke(id);
    }
    expect(keys(s, 'node/', 'node0')).toEqual(['node/b']);
  });
});
