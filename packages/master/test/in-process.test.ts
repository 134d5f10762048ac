// Three masters in one process on loopback: replication, reads on followers,
// forwarding, leader failover and membership, without spawning processes.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { serviceClient } from '@bramble/transport';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startMaster, type Master } from '../src/index.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

type Call = <T = any>(method: string, req: object) => Promise<T>;
function client(address: string, service: 'kv' | 'cluster'): { call: Call; close(): void } {
  const Ctor = service === 'kv' ? serviceClient('kv.proto', 'bramble.kv.KV') : serviceClient('cluster.proto', 'bramble.cluster.Cluster');
  const c = new Ctor(address, grpc.credentials.createInsecure()) as any;
  return {
    call: (method, req) =>
      new Promise((resolve, reject) => c[method](req, { deadline: new Date(Date.now() + 5000) }, (err: any, res: any) => (err ? reject(err) : resolve(res)))),
    close: () => c.close(),
  };
}

async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

const masters: Master[] = [];
const dirs: string[] = [];
const clients: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(masters.splice(0).map((m) => m.stop().catch(() => undefined)));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function startCluster(n: number): Promise<{ peers: Record<string, string>; byName: Map<string, Master> }> {
  const peers: Record<string, string> = {};
  for (let i = 1; i <= n; i++) peers[`m${i}`] = `127.0.0.1:${await freePort()}`;
  const byName = new Map<string, Master>();
  for (const [name, listen] of Object.entries(peers)) {
    const dir = await mkdtemp(join(tmpdir(), `bramble-${name}-`));
    dirs.push(dir);
    const m = await startMaster({ name, listen, peers, dataDir: join(dir, name), tickMs: 20 }, pino({ level: 'silent' }));
    masters.push(m);
    byName.set(name, m);
  }
  return { peers, byName };
}

describe('masters in one process', () => {
  it('replicates puts and serves linearizable reads on every member', async () => {
    const { peers, byName } = await startCluster(3);
    const leader = await waitFor('a leader', () => [...byName.values()].find((m) => m.host.isLeader));
    const follower = [...byName.values()].find((m) => m !== leader)!;
    const kvF = client(peers[follower.name], 'kv');
    clients.push(kvF);
    // A write on a follower is forwarded to the leader.
    for (let i = 0; i < 50; i++) await kvF.call('Put', { key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`) });
    for (const [name, address] of Object.entries(peers)) {
      const kv = client(address, 'kv');
      clients.push(kv);
      const res = await kv.call('Range', { key: Buffer.from('k'), range_end: Buffer.from('l') });
      expect(res.count, name).toBe(50);
      for (const kv of res.kvs) expect(kv.value.toString()).toBe(`v${kv.key.toString().slice(1)}`);
    }
    const kvL = client(peers[leader.name], 'kv');
    clients.push(kvL);
    const one = await kvL.call('Range', { key: Buffer.from('k42') });
    expect(one.kvs[0].value.toString()).toBe('v42');
    expect(one.kvs[0].version).toBe(1);
  });

  it('rejects bad requests with clear errors and stays healthy', async () => {
    const { peers, byName } = await startCluster(3);
    await waitFor('a leader', () => [...byName.values()].find((m) => m.host.isLeader));
    const kv = client(Object.values(peers)[0], 'kv');
    clients.push(kv);
    await expect(kv.call('Put', { key: Buffer.alloc(0), value: Buffer.from('x') })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining('key must not be empty'),
    });
    await expect(kv.call('Put', { key: Buffer.from('big'), value: Buffer.alloc(2 * 1024 * 1024) })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining('request too large'),
    });
    await expect(kv.call('Txn', { success: [{}] })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    const cluster = client(Object.values(peers)[0], 'cluster');
    clients.push(cluster);
    await expect(cluster.call('MemberRemove', { name: 'nobody' })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await kv.call('Put', { key: Buffer.from('after'), value: Buffer.from('ok') });
    const res = await kv.call('Range', { key: Buffer.from('after') });
    expect(res.kvs[0].value.toString()).toBe('ok');
  });

  it('HashKV: members at the same applied index report the same hash, which changes with every write', async () => {
    const { peers, byName } = await startCluster(3);
    await waitFor('a leader', () => [...byName.values()].find((m) => m.host.isLeader));
    const kv = client(Object.values(peers)[0], 'kv');
    clients.push(kv);
    // A new leader writes the default namespace and a bootstrap join token; let those land first.
    const start = await waitFor('the leader start-up writes', async () => {
      const ns = await kv.call('Range', { key: Buffer.from('/registry/namespaces/default') });
      const tokens = await kv.call('Range', { key: Buffer.from('/bramble/tokens/'), range_end: Buffer.from('/bramble/tokens0') });
      return ns.kvs.length === 1 && tokens.kvs.length === 1 ? Number(tokens.header.revision) : undefined;
    });
    for (let i = 0; i < 10; i++) await kv.call('Put', { key: Buffer.from(`h${i % 3}`), value: Buffer.from(`v${i}`) });
    await kv.call('DeleteRange', { key: Buffer.from('h0') });
    const hashAll = (): Promise<any[]> =>
      Promise.all(
        Object.values(peers).map((address) => {
          const c = client(address, 'cluster');
          clients.push(c);
          return c.call('HashKV', {});
        }),
      );
    const settled = await waitFor('every member at the same applied index', async () => {
      const all = await hashAll();
      return all.every((h) => h.applied_index === all[0].applied_index) ? all : undefined;
    });
    for (const h of settled) {
      expect(h).toMatchObject({ hash: settled[0].hash, revision: start + 11, compact_revision: 0 });
      expect(h.hash).toMatch(/^[0-9a-f]{64}$/);
    }
    await kv.call('Put', { key: Buffer.from('h1'), value: Buffer.from('again') });
    const after = await waitFor('the write applied everywhere', async () => {
      const all = await hashAll();
      return all.every((h) => Number(h.revision) === start + 12) ? all : undefined;
    });
    expect(new Set(after.map((h) => h.hash)).size).toBe(1);
    expect(after[0].hash).not.toBe(settled[0].hash);
  });

  it('elects a new leader when the leader stops and keeps every acknowledged write', async () => {
    const { peers, byName } = await startCluster(3);
    const leader = await waitFor('a leader', () => [...byName.values()].find((m) => m.host.isLeader));
    const others = [...byName.values()].filter((m) => m !== leader);
    const kv = client(peers[others[0].name], 'kv');
    clients.push(kv);
    for (let i = 0; i < 20; i++) await kv.call('Put', { key: Buffer.from(`a${i}`), value: Buffer.from('1') });
    await leader.stop();
    masters.splice(masters.indexOf(leader), 1);
    await waitFor('a new leader', () => others.find((m) => m.host.isLeader));
    for (let i = 0; i < 20; i++) await kv.call('Put', { key: Buffer.from(`b${i}`), value: Buffer.from('2') });
    const res = await kv.call('Range', { key: Buffer.from('a'), range_end: Buffer.from('c') });
    expect(res.count).toBe(40);
  });
});
