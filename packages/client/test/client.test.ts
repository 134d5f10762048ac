import { afterEach, describe, expect, it } from 'vitest';
import { BrambleClient, BrambleError, prefixRangeEnd, type ClientOptions, type WatchEvent } from '../src/index.js';
import { FakeCluster, refusedEndpoint } from './fake-server.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

async function cluster(names: string[] = ['m1', 'm2']): Promise<FakeCluster> {
  const c = new FakeCluster(names);
  await c.start();
  cleanups.push(() => c.stop());
  return c;
}

function client(endpoints: string[], opts: Partial<ClientOptions> = {}): BrambleClient {
  const c = new BrambleClient({ endpoints, requestTimeoutMs: 2_000, dialTimeoutMs: 500, ...opts });
  cleanups.push(() => c.close());
  return c;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function rejection(p: Promise<unknown>): Promise<BrambleError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BrambleError);
    return err as BrambleError;
  }
  throw new Error('expected a rejection');
}

describe('prefixRangeEnd', () => {
  it('increments the last byte below 0xff, dropping trailing 0xff bytes', () => {
    expect(prefixRangeEnd(Buffer.from('abc'))).toEqual(Buffer.from('abd'));
    expect(prefixRangeEnd(Buffer.from([0x61, 0xff, 0xff]))).toEqual(Buffer.from([0x62]));
    expect(prefixRangeEnd(Buffer.from([0xff]))).toEqual(Buffer.from([0]));
  });
});

describe('KV calls against one master', () => {
  it('puts, gets by key and prefix, deletes, with prevKv', async () => {
    const c = await cluster(['m1']);
    const kv = client(c.endpoints);
    const put = await kv.put('a/1', 'one');
    expect(put.header.member).toBe('m1');
    expect(put.prevKv).toBeUndefined();
    await kv.put('a/2', 'two');
    await kv.put('b', 'x');
    const again = await kv.put('a/1', 'uno', { prevKv: true });
    expect(again.prevKv?.valueString()).toBe('one');

    const one = await kv.get('a/1');
    expect(one.kvs.map((k) => [k.keyString(), k.valueString(), k.version])).toEqual([['a/1', 'uno', 2]]);
    const prefix = await kv.get('a/', { prefix: true });
    expect(prefix.kvs.map((k) => k.keyString())).toEqual(['a/1', 'a/2']);
    expect(prefix.count).toBe(2);
    const limited = await kv.get('a/', { prefix: true, limit: 1 });
    expect(limited.more).toBe(true);

    const del = await kv.delete('a/', { prefix: true, prevKv: true });
    expect(del.deleted).toBe(2);
    expect(del.prevKvs.map((k) => k.valueString())).toEqual(['uno', 'two']);
    expect((await kv.get('', { prefix: true })).kvs.map((k) => k.keyString())).toEqual(['b']);
  });

  it('runs a txn with compares and both branches', async () => {
    const c = await cluster(['m1']);
    const kv = client(c.endpoints);
    await kv.put('k', 'v1');
    const t = await kv.txn({
      compare: [{ key: 'k', target: 'value', op: '=', value: 'v1' }],
      success: [{ type: 'put', key: 'k', value: 'v2' }, { type: 'get', key: 'k' }],
      failure: [],
    });
    expect(t.succeeded).toBe(true);
    expect(t.responses.map((r) => r.type)).toEqual(['put', 'get']);
    const get = t.responses[1];
    expect(get.type === 'get' && get.range.kvs[0].valueString()).toBe('v2');
    const f = await kv.txn({ compare: [{ key: 'k', target: 'version', op: '=', value: 0 }], success: [], failure: [{ type: 'delete', key: 'k' }] });
    expect(f.succeeded).toBe(false);
    expect(f.responses[0].type === 'delete' && f.responses[0].delete.deleted).toBe(1);
  });

  it('surfaces a definite error at once, without trying another master', async () => {
    const c = await cluster();
    const kv = client(c.endpoints);
    const err = await rejection(kv.put('', 'x'));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe(`put "": INVALID_ARGUMENT: put.key: key must not be empty`);
    expect(err.endpoint).toBe(c.endpoints[0]);
    expect(c.masters[1].calls).toEqual([]);
  });
});

describe('message size', () => {
  it('sends requests a little over the masters\' 1.5 MiB limit (so the master explains), refuses far larger ones', async () => {
    const c = await cluster(['m1']);
    const kv = client(c.endpoints);
    await kv.put('big', Buffer.alloc(1_800_000, 1));
    expect(c.state.kvs.get('big')?.value.length).toBe(1_800_000);
    const err = await rejection(kv.put('huge', Buffer.alloc(3 * 1024 * 1024, 1)));
    expect(err.code).toBe('RESOURCE_EXHAUSTED');
    expect(c.masters[0].calls).toEqual(['Put']);
  });
});

describe('failover of reads', () => {
  it('retries a read on the next master when the first answers UNAVAILABLE, and stays there', async () => {
    const c = await cluster();
    c.state.put('k', 'v');
    c.masters[0].mode = 'unavailable';
    const kv = client(c.endpoints);
    const r = await kv.get('k');
    expect(r.kvs[0].valueString()).toBe('v');
    expect(r.header.member).toBe('m2');
    expect(c.masters[0].calls).toEqual(['Range']);
    expect(kv.currentEndpoint).toBe(c.endpoints[1]);
    await kv.get('k');
    expect(c.masters[0].calls).toEqual(['Range']);
  });

  it('retries a read on the next master when the first refuses connections', async () => {
    const c = await cluster(['m2']);
    c.state.put('k', 'v');
    const kv = client([await refusedEndpoint(), ...c.endpoints]);
    expect((await kv.get('k')).kvs[0].valueString()).toBe('v');
  });

  it('gives up a hung read after the attempt timeout and asks another master', async () => {
    const c = await cluster();
    c.state.put('k', 'v');
    c.masters[0].mode = 'hang';
    const kv = client(c.endpoints, { requestTimeoutMs: 1_000 });
    const started = Date.now();
    const r = await kv.get('k');
    expect(r.header.member).toBe('m2');
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
  });

  it('fails with UNAVAILABLE naming every endpoint when none answers before the deadline', async () => {
    const eps = [await refusedEndpoint(), await refusedEndpoint()];
    const kv = client(eps, { requestTimeoutMs: 600 });
    const started = Date.now();
    const err = await rejection(kv.get('k'));
    const elapsed = Date.now() - started;
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/^get "k": UNAVAILABLE: /);
    for (const ep of eps) expect(err.message).toContain(`${ep}: no connection: connect ECONNREFUSED ${ep}`);
    expect(err.attempts.length).toBeGreaterThan(2);
    expect(elapsed).toBeLessThan(1_500);
  });
});

describe('failover of writes', () => {
  it('retries a put on the next master when the first refused the connection (never sent)', async () => {
    const c = await cluster(['m2']);
    const kv = client([await refusedEndpoint(), ...c.endpoints]);
    await kv.put('k', 'v');
    expect(c.state.kvs.get('k')?.version).toBe(1);
  });

  it('retries a put the master marked retry-safe', async () => {
    const c = await cluster();
    c.masters[0].mode = 'retry-safe';
    const kv = client(c.endpoints);
    const r = await kv.put('k', 'v');
    expect(r.header.member).toBe('m2');
    expect(c.state.kvs.get('k')?.version).toBe(1);
  });

  it('does not repeat a put that a master answered UNAVAILABLE: the outcome is unknown', async () => {
    const c = await cluster();
    c.masters[0].mode = 'unavailable';
    const kv = client(c.endpoints);
    const err = await rejection(kv.put('k', 'v'));
    expect(err.code).toBe('UNKNOWN_OUTCOME');
    expect(err.message).toBe(
      `put "k": UNKNOWN_OUTCOME: sent to ${c.endpoints[0]} but no answer came back (UNAVAILABLE: fake m1: no leader); ` +
        'it may or may not have been applied, so it was not repeated',
    );
    expect(c.masters[1].calls).toEqual([]);
    // The next call starts elsewhere.
    await kv.put('k2', 'v');
    expect(c.masters[1].calls).toEqual(['Put']);
  });

  it('does not repeat a put whose connection dropped after it was applied', async () => {
    const c = await cluster();
    c.masters[0].mode = 'apply-then-drop';
    const kv = client(c.endpoints);
    const err = await rejection(kv.put('k', 'v'));
    expect(err.code).toBe('UNKNOWN_OUTCOME');
    expect(c.state.kvs.get('k')?.version).toBe(1);
    expect(c.masters[1].calls).toEqual([]);
  });

  it('does not repeat a put that hung until the deadline', async () => {
    const c = await cluster();
    c.masters[0].mode = 'hang';
    const kv = client(c.endpoints, { requestTimeoutMs: 400 });
    const err = await rejection(kv.txn({ compare: [], success: [{ type: 'put', key: 'k', value: 'v' }], failure: [] }));
    expect(err.code).toBe('UNKNOWN_OUTCOME');
    expect(err.details).toContain('DEADLINE_EXCEEDED');
    expect(c.masters[1].calls).toEqual([]);
  });
});

describe('leader preference', () => {
  it('learns where the leader is from the member list and sends later calls there', async () => {
    const c = await cluster(['m1', 'm2', 'm3']);
    c.state.leader = 'm3';
    const kv = client(c.endpoints);
    await kv.put('k', 'v');
    expect(c.masters[0].calls).toEqual(['Put']);
    await waitFor('the leader endpoint to be learned', () => kv.currentEndpoint === c.endpoints[2]);
    await kv.get('k');
    expect(c.masters[2].calls).toContain('Range');
  });
});

describe('cluster calls', () => {
  it('asks each endpoint for its status; an unreachable one reports an error', async () => {
    const c = await cluster(['m1']);
    c.state.leader = 'm1';
    const down = await refusedEndpoint();
    const kv = client([...c.endpoints, down]);
    const all = await kv.statusAll();
    expect(all[0].status).toMatchObject({ member: 'm1', role: 'leader', leader: 'm1', term: 2 });
    expect(all[1].endpoint).toBe(down);
    expect(all[1].error?.message).toMatch(new RegExp(`^status of ${down}: UNAVAILABLE: `));
    const members = await kv.memberList();
    expect(members.members.map((m) => m.name)).toEqual(['m1']);
  });
});

describe('watch', () => {
  it('resumes on another master from the last delivered revision, losing and repeating nothing', async () => {
    const c = await cluster();
    const kv = client(c.endpoints);
    const seen: WatchEvent[] = [];
    const w = kv.watch('k/', { prefix: true }, (events) => seen.push(...events));
    await w.ready;
    c.state.put('k/1', 'a');
    c.state.put('other', 'x');
    await waitFor('first event', () => seen.length === 1);
    const lastBefore = w.lastRevision;
    expect(lastBefore).toBe(seen[0].kv.modRevision);

    c.masters[0].stop();
    c.state.put('k/2', 'b');
    c.state.put('k/3', 'c');
    await waitFor('the replayed events', () => seen.length === 3);
    expect(c.masters[1].watchStarts).toEqual([lastBefore + 1]);
    c.state.put('k/4', 'd');
    await waitFor('a live event after the resume', () => seen.length === 4);
    expect(seen.map((e) => `${e.type} ${e.kv.keyString()}=${e.kv.valueString()}`)).toEqual(['PUT k/1=a', 'PUT k/2=b', 'PUT k/3=c', 'PUT k/4=d']);
    w.cancel();
    await w.closed;
  });

  it('waits for a restarted master when it is the only one, then resumes', async () => {
    const c = await cluster(['m1']);
    const kv = client(c.endpoints);
    const seen: string[] = [];
    const w = kv.watch('k', {}, (events) => seen.push(...events.map((e) => e.kv.valueString())));
    await w.ready;
    c.state.put('k', '1');
    await waitFor('first event', () => seen.length === 1);
    const port = c.masters[0].port;
    c.masters[0].stop();
    c.state.put('k', '2');
    await new Promise((r) => setTimeout(r, 300));
    await c.masters[0].start(port);
    await waitFor('the event made while the master was down', () => seen.length === 2);
    c.state.put('k', '3');
    await waitFor('a live event', () => seen.length === 3);
    expect(seen).toEqual(['1', '2', '3']);
    expect(c.masters[0].watchStarts.at(-1)).toBe(c.state.revision - 1);
  });

  it('fails with the last error when no master takes the watch back in time', async () => {
    const c = await cluster(['m1']);
    const kv = client(c.endpoints);
    const w = kv.watch('k', { reconnectTimeoutMs: 300 }, () => {});
    await w.ready;
    c.masters[0].stop();
    const err = await rejection(w.closed);
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/^watch "k": UNAVAILABLE: no master accepted the watch for \d+ ms \(last error .*\); resume from revision 2$/);
  });

  it('fails within the request timeout when no master takes the watch at all', async () => {
    const down = await refusedEndpoint();
    const kv = client([down], { requestTimeoutMs: 300 });
    const started = Date.now();
    const w = kv.watch('k', {}, () => {});
    const err = await rejection(w.ready);
    expect(err.message).toMatch(new RegExp(`^watch "k": UNAVAILABLE: could not start the watch within \\d+ ms \\(last error ${down}: UNAVAILABLE: no connection: connect ECONNREFUSED ${down}\\)$`));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await rejection(w.closed)).message).toBe(err.message);
  });

  it('delivers history from a start revision and reports a compacted one with its compact revision', async () => {
    const c = await cluster(['m1']);
    const r1 = c.state.put('k', '1');
    c.state.put('k', '2');
    const kv = client(c.endpoints);
    const seen: string[] = [];
    const w = kv.watch('k', { startRevision: r1 }, (events) => seen.push(...events.map((e) => e.kv.valueString())));
    await waitFor('history', () => seen.length === 2);
    expect(seen).toEqual(['1', '2']);
    w.cancel();

    c.state.compactRevision = 3;
    const compacted = kv.watch('k', { startRevision: 2 }, () => {});
    const err = await rejection(compacted.closed);
    expect(err.code).toBe('COMPACTED');
    expect(err.compactRevision).toBe(3);
    expect(err.message).toBe(`watch "k": COMPACTED: revision 2 has been compacted; history starts at compact revision 3: re-read and watch from there`);
  });
});

describe('leases', () => {
  it('keeps a lease alive and reports when it is gone', async () => {
    const c = await cluster(['m1']);
    const kv = client(c.endpoints);
    const { id, ttl } = await kv.leaseGrant(30);
    expect(ttl).toBe(30);
    expect((await kv.leaseKeepAliveOnce(id)).ttl).toBe(30);
    let renewals = 0;
    const k = kv.leaseKeepAlive(id, { intervalMs: 20, onKeepAlive: () => renewals++ });
    expect(await k.ready).toBe(30);
    await waitFor('a few renewals', () => renewals >= 3);
    await kv.leaseRevoke(id);
    const err = await rejection(k.closed);
    expect(err.code).toBe('LEASE_EXPIRED');
    expect((await rejection(kv.leaseKeepAliveOnce(id))).code).toBe('LEASE_EXPIRED');
  });
});

describe('lease keep-alive failover', () => {
  it('moves the keep-alive stream to another master when its master dies', async () => {
    const c = await cluster();
    const kv = client(c.endpoints);
    const { id } = await kv.leaseGrant(30);
    let renewals = 0;
    const k = kv.leaseKeepAlive(id, { intervalMs: 20, onKeepAlive: () => renewals++ });
    await k.ready;
    c.masters[0].stop();
    const before = renewals;
    await waitFor('renewals through m2', () => renewals >= before + 3 && c.masters[1].calls.includes('LeaseKeepAlive'));
    k.cancel();
    await k.closed;
  });
});

describe('close', () => {
  it('cancels calls in flight and refuses new ones', async () => {
    const c = await cluster(['m1']);
    c.masters[0].mode = 'hang';
    const kv = new BrambleClient({ endpoints: c.endpoints, requestTimeoutMs: 10_000 });
    const pending = kv.get('k');
    await waitFor('the call to arrive', () => c.masters[0].calls.length === 1);
    kv.close();
    expect((await rejection(pending)).code).toBe('CLOSED');
    expect((await rejection(kv.get('k'))).code).toBe('CLOSED');
  });
});
