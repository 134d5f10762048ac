// Bad requests get a precise error (code and the field or limit at fault) and leave
// the cluster exactly as healthy as before: same leader, same term, writes work.
import { describe, expect, it } from 'vitest';
import { grpcStatus, waitFor } from '@bramble/testkit';
import { httpGet, rejection, startCluster } from './helpers.js';

const MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

describe('bad requests', () => {
  it('are rejected with precise errors and leave the cluster healthy', async () => {
    const cluster = await startCluster({ masters: 3, tickMs: 50 });
    const leader = await cluster.waitForLeader();
    const follower = cluster.running().find((n) => n !== leader)!;
    const before = await cluster.client(leader).status();
    await cluster.client(leader).put('ok', '1');
    // Writes go through a follower too, so forwarding is exercised by every bad write.
    const c = cluster.client(follower);

    // Empty keys.
    let e = await rejection(c.kvCall('Put', { key: Buffer.alloc(0), value: Buffer.from('v') }));
    expect(e).toEqual({ code: grpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('put.key') });
    e = await rejection(c.kvCall('Range', { key: Buffer.alloc(0) }));
    expect(e).toEqual({ code: grpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('range.key') });

    // A value over the 1.5 MiB request limit: the error names the limit.
    e = await rejection(c.put('big', 'x'.repeat(MAX_REQUEST_BYTES + 1024)));
    expect(e.code).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(e.details).toContain(String(MAX_REQUEST_BYTES));
    expect(e.details).toMatch(/limit/);
    // Just under the limit is fine.
    await c.put('big', 'x'.repeat(MAX_REQUEST_BYTES - 1024));

    // A txn op with no request set, and a compare with an unknown target: the field path.
    e = await rejection(c.kvCall('Txn', { success: [{ request_put: { key: Buffer.from('t'), value: Buffer.from('v') } }, {}] }));
    expect(e).toEqual({ code: grpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('txn.success[1]') });
    e = await rejection(
      c.kvCall('Txn', {
        compare: [{ key: Buffer.from('t'), target: 'MOD', result: 'EQUAL', mod_revision: 0 }, { key: Buffer.from('t'), target: 9, result: 'EQUAL' }],
        success: [{ request_put: { key: Buffer.from('t'), value: Buffer.from('v') } }],
      }),
    );
    expect(e).toEqual({ code: grpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('txn.compare[1].target') });
    const t = await c.kvCall('Range', { key: Buffer.from('t') });
    expect(t.kvs, 'a rejected txn wrote nothing').toEqual([]);

    // Membership: unknown member, bad address.
    e = await rejection(c.clusterCall('MemberRemove', { name: 'no-such-member' }));
    expect(e).toEqual({ code: grpcStatus.NOT_FOUND, details: expect.stringContaining('no-such-member') });
    e = await rejection(c.clusterCall('MemberAdd', { name: 'm9', address: 'not-an-address' }));
    expect(e).toEqual({ code: grpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('not-an-address') });
    const members = await c.clusterCall('MemberList', { linearizable: true });
    expect(members.members.map((m: { name: string }) => m.name).sort()).toEqual(['m1', 'm2', 'm3']);

    // Compacting a revision that does not exist yet.
    const rev = Number((await c.kvCall('Range', { key: Buffer.from('ok') })).header.revision);
    e = await rejection(c.kvCall('Compact', { revision: rev + 1000 }));
    expect(e).toEqual({ code: grpcStatus.OUT_OF_RANGE, details: expect.stringContaining(String(rev + 1000)) });

    // Healthy afterwards: every member ready, no leader change, writes work.
    for (const name of cluster.running()) {
      const http = cluster.members.get(name)!.http;
      expect(await httpGet(http, '/healthz'), `${name} /healthz`).toMatchObject({ status: 200 });
      await waitFor(`${name} /readyz`, async () => (await httpGet(http, '/readyz')).status === 200, 5_000);
    }
    const put = await c.put('ok', '2');
    expect(put.header.leader).toBe(leader);
    const after = await cluster.client(leader).status();
    expect({ leader: after.leader, term: after.term }).toEqual({ leader: before.leader, term: before.term });
    const ok = await cluster.client(leader).get('ok');
    expect(Buffer.from(ok.kvs[0].value).toString()).toBe('2');
  });
});
