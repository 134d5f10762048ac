import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { EntryType, MessageType, type Message } from '@bramble/raft';
import { enlargeServerReceiveWindows, messageToWire, serviceClient, RAFT_PROTO, RAFT_PEER_SERVICE, type WireBatch } from '../src/index.js';
import { Fixture, Recorder, deadAddress, entry, msg, waitFor } from './helpers.js';

const fx = new Fixture();
afterEach(() => fx.stop());

const enc = new TextEncoder();

describe('PeerTransport: delivery', () => {
  it('delivers every message in send order, coalescing a turn of sends into few batches', async () => {
    const { transports, recorders } = await fx.cluster(2);
    const [a] = transports;
    for (let round = 0; round < 10; round++) {
      const batch: Message[] = [];
      for (let i = 0; i < 100; i++) {
        const n = round * 100 + i;
        batch.push(msg('m1', 'm2', { type: MessageType.App, index: n, commit: n, entries: [entry(n + 1, enc.encode(`v${n}`))] }));
      }
      a.send(batch);
    }
    await waitFor(() => recorders[1].messages.length === 1000, '1000 messages at m2');
    expect(recorders[1].messages.map((m) => m.index)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const last = recorders[1].messages[999];
    expect(last).toMatchObject({ type: MessageType.App, from: 'm1', to: 'm2', term: 1, commit: 999, reject: false });
    expect(new TextDecoder().decode(last.entries[0].data)).toBe('v999');
    const stats = a.peerStats().m2;
    expect(stats.connected).toBe(true);
    expect(stats.sentMessages).toBe(1000);
    // All ten send() calls happened in one turn of the event loop: one batch (plus none per call).
    expect(stats.sentBatches).toBeLessThanOrEqual(2);
    expect(transports[1].peerStats().m1.receivedMessages).toBe(1000);
  });

  it('maps every field of Message one to one', async () => {
    const { transports, recorders } = await fx.cluster(2);
    const sent: Message[] = [
      msg('m1', 'm2', {
        type: MessageType.App,
        term: 7,
        logTerm: 6,
        index: 2 ** 40,
        commit: 2 ** 53 - 1,
        entries: [entry(1, enc.encode('a'), 6), { term: 7, index: 2, type: EntryType.ConfChange, data: new Uint8Array([1, 2, 3]) }, entry(3, new Uint8Array(0), 7)],
      }),
      msg('m1', 'm2', { type: MessageType.AppResp, reject: true, rejectHint: 42, index: 9 }),
      msg('m1', 'm2', { type: MessageType.ReadIndex, term: 0, context: enc.encode('req-1') }),
      msg('m1', 'm2', { type: MessageType.Vote, context: new Uint8Array(0) }),
      msg('m1', 'm2', { type: MessageType.TransferLeader, transferee: 'm3' }),
      msg('m1', 'm2', { type: MessageType.Prop, term: 0, entries: [entry(0, enc.encode('proposal'), 0)] }),
    ];
    transports[0].send(sent);
    await waitFor(() => recorders[1].messages.length === sent.length, 'all messages');
    const got = recorders[1].messages.map((m) => ({
      ...m,
      entries: m.entries.map((e) => ({ ...e, data: [...e.data] })),
      context: m.context ? [...m.context] : undefined,
    }));
    const want = sent.map((m) => ({
      ...m,
      entries: m.entries.map((e) => ({ ...e, data: [...e.data] })),
      context: m.context ? [...m.context] : undefined,
    }));
    expect(got).toEqual(want);
    // Absent optional fields stay absent.
    expect('transferee' in recorders[1].messages[0]).toBe(false);
    expect('context' in recorders[1].messages[0]).toBe(false);
  });

  it('carries large MsgApp batches intact, in order, both ways among three members', async () => {
    const { transports, recorders } = await fx.cluster(3);
    const payload = (n: number) => {
      const b = Buffer.alloc(4096 + (n % 7) * 1000);
      b.writeUInt32BE(n, 0);
      b.fill(n % 251, 4);
      return b;
    };
    // 300 messages of 32 entries of ~4-10 KiB each: ~70 MiB from m1 to each of m2 and m3.
    const digests: string[] = [];
    for (let i = 0; i < 300; i++) {
      const entries = Array.from({ length: 32 }, (_, j) => entry(i * 32 + j + 1, payload(i * 32 + j)));
      digests.push(createHash('sha256').update(Buffer.concat(entries.map((e) => e.data))).digest('hex'));
      transports[0].send([msg('m1', 'm2', { type: MessageType.App, index: i * 32, entries }), msg('m1', 'm3', { type: MessageType.App, index: i * 32, entries })]);
      if (i % 20 === 19) {
        // Pace like Raft's in-flight window would: the queue bound (32 MiB) is not the test here.
        const stats = () => transports[0].peerStats();
        await waitFor(() => stats().m2.queuedBytes < 4 * 1024 * 1024 && stats().m3.queuedBytes < 4 * 1024 * 1024, 'queues to drain');
      }
    }
    // One message larger than a batch (8 MiB) goes alone.
    const big = randomBytes(8 * 1024 * 1024);
    transports[0].send([msg('m1', 'm2', { type: MessageType.App, index: 1e6, entries: [entry(1e6 + 1, big)] })]);
    transports[1].send([msg('m2', 'm1', { type: MessageType.AppResp, index: 9600 })]);
    transports[2].send([msg('m3', 'm1', { type: MessageType.AppResp, index: 9600 })]);
    await waitFor(() => recorders[1].messages.length === 301 && recorders[2].messages.length === 300, 'large batches', 30_000);
    for (const r of [recorders[1], recorders[2]]) {
      for (let i = 0; i < 300; i++) {
        const m = r.messages[i];
        expect(m.index).toBe(i * 32);
        expect(createHash('sha256').update(Buffer.concat(m.entries.map((e) => e.data))).digest('hex')).toBe(digests[i]);
      }
    }
    expect(Buffer.from(recorders[1].messages[300].entries[0].data).equals(big)).toBe(true);
    await waitFor(() => recorders[0].messages.length === 2, 'responses at m1');
    expect(recorders[0].messages.map((m) => m.from).sort()).toEqual(['m2', 'm3']);
    expect(transports[0].peerStats().m2.sentBatches).toBeGreaterThan(10);
    expect(transports[0].peerStats().m2.droppedMessages).toBe(0);
  });
});

describe('enlargeServerReceiveWindows', () => {
  it('applies to this grpc-js version and traffic still flows', async () => {
    const { transports, recorders, started } = await fx.cluster(2);
    expect(enlargeServerReceiveWindows(started[1].server)).toBe(true);
    const big = randomBytes(6 * 1024 * 1024);
    transports[0].send([msg('m1', 'm2', { type: MessageType.App, entries: [entry(1, big)] })]);
    await waitFor(() => recorders[1].messages.length === 1, 'a 6 MiB message');
    expect(Buffer.from(recorders[1].messages[0].entries[0].data).equals(big)).toBe(true);
    expect(enlargeServerReceiveWindows(new grpc.Server())).toBe(false); // not bound: nothing to tune
  });
});

describe('PeerTransport: snapshots', () => {
  it('streams a snapshot of several MiB in chunks and reassembles it exactly', async () => {
    const { transports, recorders } = await fx.cluster(2, { snapshotChunkBytes: 512 * 1024 });
    const data = randomBytes(5 * 1024 * 1024 + 12345);
    const m = msg('m1', 'm2', {
      type: MessageType.Snap,
      term: 3,
      snapshot: { meta: { index: 5000, term: 3, confState: { voters: ['m1', 'm2', 'm3'], learners: ['m4'] } }, data },
    });
    transports[0].send([m, msg('m1', 'm2', { type: MessageType.Heartbeat, term: 3 })]);
    await waitFor(() => recorders[0].snapshotStatus.length === 1, 'snapshot status');
    expect(recorders[0].snapshotStatus).toEqual([{ peer: 'm2', ok: true }]);
    const got = recorders[1].messages.find((x) => x.type === MessageType.Snap)!;
    expect(got).toBeDefined();
    expect(got.snapshot!.meta).toEqual({ index: 5000, term: 3, confState: { voters: ['m1', 'm2', 'm3'], learners: ['m4'] } });
    expect(got.term).toBe(3);
    expect(got.snapshot!.data.length).toBe(data.length);
    expect(Buffer.from(got.snapshot!.data).equals(data)).toBe(true);
    expect(transports[0].peerStats().m2.snapshotsSent).toBe(1);
  });

  it('sends an empty snapshot and reports a failed transfer to an unreachable peer', async () => {
    const { transports, recorders } = await fx.cluster(2);
    const snap = (index: number, data: Uint8Array) =>
      msg('m1', 'm2', { type: MessageType.Snap, snapshot: { meta: { index, term: 1, confState: { voters: ['m1'], learners: [] } }, data } });
    transports[0].send([snap(1, new Uint8Array(0))]);
    await waitFor(() => recorders[0].snapshotStatus.length === 1, 'empty snapshot status');
    expect(recorders[0].snapshotStatus[0]).toEqual({ peer: 'm2', ok: true });
    expect(recorders[1].messages[0].snapshot!.data.length).toBe(0);

    transports[0].addPeer('m2', await deadAddress());
    transports[0].send([snap(2, randomBytes(1024 * 1024))]);
    await waitFor(() => recorders[0].snapshotStatus.length === 2, 'failed snapshot status');
    expect(recorders[0].snapshotStatus[1]).toEqual({ peer: 'm2', ok: false });
    expect(transports[0].peerStats().m2.lastError).toMatch(/snapshot at index 2 to m2: UNAVAILABLE/);
  });

  it('refuses a snapshot larger than maxSnapshotBytes with RESOURCE_EXHAUSTED', async () => {
    const { transports, recorders } = await fx.cluster(2, { maxSnapshotBytes: 1024 * 1024 });
    transports[0].send([
      msg('m1', 'm2', { type: MessageType.Snap, snapshot: { meta: { index: 3, term: 1, confState: { voters: [], learners: [] } }, data: randomBytes(2 * 1024 * 1024) } }),
    ]);
    await waitFor(() => recorders[0].snapshotStatus.length === 1, 'snapshot status');
    expect(recorders[0].snapshotStatus[0].ok).toBe(false);
    expect(transports[0].peerStats().m2.lastError).toMatch(/RESOURCE_EXHAUSTED: .*exceeds maxSnapshotBytes 1048576/);
    expect(recorders[1].messages).toHaveLength(0);
  });
});

describe('PeerTransport: failures', () => {
  it('reconnects after the receiving server is shut down and restarted on the same port', async () => {
    const { transports, recorders, started } = await fx.cluster(2);
    const [a] = transports;
    a.send([msg('m1', 'm2', { index: 1 })]);
    await waitFor(() => recorders[1].messages.length === 1, 'first message');
    await waitFor(() => a.peerStats().m2.connected, 'connected');

    // m2 "crashes": its server goes away without a goodbye.
    started[1].server.forceShutdown();
    await waitFor(() => recorders[0].unreachable.includes('m2'), 'onUnreachable(m2)');
    expect(a.peerStats().m2.connected).toBe(false);
    expect(recorders[0].disconnected).toContainEqual({ peer: 'm2', direction: 'outgoing', abrupt: true });

    // Messages sent while it is down wait in the queue (or are dropped), never block.
    a.send([msg('m1', 'm2', { index: 2 })]);

    // m2 comes back on the same port with a fresh transport.
    const again = await fx.server(started[1].port);
    const r2 = new Recorder();
    fx.transport({ self: 'm2', clusterId: 'c1', peers: { m1: started[0].address }, handlers: r2 }, again.server);
    await waitFor(() => a.peerStats().m2.connected, 'reconnected', 15_000);
    a.send([msg('m1', 'm2', { index: 3 })]);
    await waitFor(() => r2.messages.some((m) => m.index === 3), 'message after restart');
    // The message sent while m2 was down waited in the queue instead of vanishing into a failed attempt.
    expect(r2.messages.map((m) => m.index)).toContain(2);
    // Order is kept on the new stream.
    const indexes = r2.messages.map((m) => m.index);
    expect(indexes).toEqual([...indexes].sort((x, y) => x - y));
  });

  it('tells the receiver when an established incoming stream closes', async () => {
    const { transports, recorders } = await fx.cluster(2);
    transports[0].send([msg('m1', 'm2')]);
    await waitFor(() => recorders[1].messages.length === 1, 'message');
    await transports[0].close();
    await waitFor(() => recorders[1].disconnected.length > 0, 'onPeerDisconnected at m2');
    expect(recorders[1].disconnected[0]).toEqual({ peer: 'm1', direction: 'incoming', abrupt: false });
  });

  it('tells the receiver when an incoming stream breaks abruptly', async () => {
    const { transports, recorders } = await fx.cluster(2);
    transports[0].send([msg('m1', 'm2')]);
    await waitFor(() => transports[0].peerStats().m2.connected && recorders[1].messages.length === 1, 'connected');
    // Re-pointing m1's view of m2 cancels the old stream mid-flight, as a reset would.
    const again = await fx.server();
    transports[0].updatePeer('m2', again.address);
    await waitFor(() => recorders[1].disconnected.length > 0, 'onPeerDisconnected at m2');
    expect(recorders[1].disconnected[0]).toEqual({ peer: 'm1', direction: 'incoming', abrupt: true });
  });

  it('notices a peer that stops answering (keepalive) and reports it unreachable', async () => {
    const { started, recorders } = await fx.cluster(2);
    // m1 reaches m2 through a proxy that can silently stop forwarding (a hung host, a pulled cable).
    let blackhole = false;
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((client) => {
      const upstream = net.connect(started[1].port, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => sockets.delete(s));
      }
      client.on('data', (d) => !blackhole && upstream.write(d));
      upstream.on('data', (d) => !blackhole && client.write(d));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const r1 = new Recorder();
      const t1 = fx.transport({
        self: 'm1',
        clusterId: 'c1',
        peers: { m2: `127.0.0.1:${(proxy.address() as net.AddressInfo).port}` },
        handlers: r1,
        keepaliveTimeMs: 200,
        keepaliveTimeoutMs: 300,
      });
      t1.send([msg('m1', 'm2')]);
      await waitFor(() => t1.peerStats().m2.connected && recorders[1].messages.length === 1, 'connected through the proxy');
      blackhole = true;
      const t0 = Date.now();
      await waitFor(() => r1.unreachable.includes('m2'), 'keepalive to notice the dead peer', 5_000);
      expect(Date.now() - t0).toBeLessThan(3_000);
      expect(r1.disconnected).toContainEqual({ peer: 'm2', direction: 'outgoing', abrupt: true });
      expect(t1.peerStats().m2.connected).toBe(false);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => proxy.close(r));
    }
  });

  it('bounds the queue of a peer that is down: drops the oldest appends, reports it unreachable', async () => {
    const fxDead = await deadAddress();
    const r = new Recorder();
    const s = await fx.server();
    const t = fx.transport(
      { self: 'm1', clusterId: 'c1', peers: { m2: fxDead }, handlers: r, maxQueuedBytesPerPeer: 1024 * 1024, maxQueuedMessagesPerPeer: 100_000 },
      s.server,
    );
    const data = Buffer.alloc(1000);
    let maxQueued = 0;
    for (let i = 0; i < 20_000; i++) {
      t.send([msg('m1', 'm2', { type: MessageType.App, index: i, entries: [entry(i + 1, data)] })]);
      if (i % 1000 === 0) t.send([msg('m1', 'm2', { type: MessageType.Vote, index: i })]);
      maxQueued = Math.max(maxQueued, t.peerStats().m2.queuedBytes);
      if (i % 2000 === 0) await new Promise((res) => setTimeout(res, 1));
    }
    const stats = t.peerStats().m2;
    expect(maxQueued).toBeLessThanOrEqual(1024 * 1024);
    expect(stats.queuedBytes).toBeLessThanOrEqual(1024 * 1024);
    expect(stats.droppedMessages).toBeGreaterThan(15_000);
    expect(stats.queuedMessages + stats.droppedMessages + stats.sentMessages).toBe(20_020);
    await waitFor(() => r.unreachable.includes('m2'), 'onUnreachable(m2)');
    expect(stats.connected).toBe(false);

    // Count bound as well: 10 messages at most.
    const t2 = fx.transport({ self: 'm1', clusterId: 'c1', peers: { m2: fxDead }, handlers: new Recorder(), maxQueuedMessagesPerPeer: 10 });
    for (let i = 0; i < 1000; i++) t2.send([msg('m1', 'm2', { index: i })]);
    expect(t2.peerStats().m2.queuedMessages).toBeLessThanOrEqual(10);
  });

  it('reports a message for a member it has no address for as unreachable', async () => {
    const { transports, recorders } = await fx.cluster(2);
    transports[0].send([msg('m1', 'm9')]);
    await waitFor(() => recorders[0].unreachable.includes('m9'), 'onUnreachable(m9)');
  });
});

describe('RaftPeer: the receiver refuses bad requests with a clear status', () => {
  type StreamClient = grpc.Client & { Stream(): grpc.ClientDuplexStream<WireBatch, unknown> };

  async function openRaw(address: string): Promise<StreamClient> {
    const Client = serviceClient(RAFT_PROTO, RAFT_PEER_SERVICE);
    return new Client(address, grpc.credentials.createInsecure()) as unknown as StreamClient;
  }

  /** Writes `batches` on a raw stream and returns the status the server ends it with. */
  function statusOf(client: StreamClient, batches: object[]): Promise<grpc.StatusObject> {
    return new Promise((resolve) => {
      const call = client.Stream();
      call.on('error', () => {});
      call.on('data', () => {});
      call.on('status', resolve);
      for (const b of batches) call.write(b as WireBatch);
    });
  }

  const header = { cluster_id: 'c1', from: 'm1', to: 'm2' };

  it('wrong cluster id: FAILED_PRECONDITION naming both clusters; nothing delivered', async () => {
    const { transports, recorders, started } = await fx.cluster(2);
    const other = fx.transport({ self: 'm1', clusterId: 'other', peers: { m2: started[1].address }, handlers: new Recorder() });
    other.send([msg('m1', 'm2')]);
    await waitFor(() => (other.peerStats().m2.lastError ?? '').includes('FAILED_PRECONDITION'), 'rejection at the sender');
    expect(other.peerStats().m2.lastError).toContain('request for cluster "other" reached member "m2" of cluster "c1"');
    expect(other.peerStats().m2.connected).toBe(false);
    expect(recorders[1].messages).toHaveLength(0);
    expect(transports[1].peerStats().m1.errors).toBeGreaterThan(0);
  });

  it('wrong receiver name, garbage bytes, unknown message type, mismatched sender: stream ends, process stays up', async () => {
    const { transports, recorders, started } = await fx.cluster(2);
    const client = await openRaw(started[1].address);

    let st = await statusOf(client, [{ ...header, to: 'm7', messages: [] }]);
    expect(st.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(st.details).toContain('request for member "m7" reached member "m2"');

    st = await statusOf(client, [{ ...header, messages: [{ ...messageToWire(msg('m1', 'm2')), type: 99 }] }]);
    expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(st.details).toBe('MessageBatch.messages[0].type: unknown message type 99');

    st = await statusOf(client, [{ ...header, messages: [messageToWire(msg('m3', 'm2'))] }]);
    expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(st.details).toContain('MessageBatch.messages[0].from: "m3" in a batch from "m1"');

    st = await statusOf(client, [{ ...header, messages: [] }, { ...header, from: 'm3', messages: [] }]);
    expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(st.details).toContain('on a stream opened by "m1"');

    st = await statusOf(client, [{ cluster_id: 'c1', from: '', to: 'm2', messages: [] }]);
    expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(st.details).toContain('MessageBatch.from: missing sender name');

    // Bytes that are no MessageBatch at all.
    const Raw = grpc.makeGenericClientConstructor(
      {
        Stream: {
          path: '/bramble.raft.RaftPeer/Stream',
          requestStream: true,
          responseStream: true,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      'Raw',
    );
    const raw = new Raw(started[1].address, grpc.credentials.createInsecure()) as unknown as StreamClient;
    st = await statusOf(raw, [Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])]);
    expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(st.details).toMatch(/^undecodable MessageBatch: /);
    raw.close();
    client.close();

    // The receiver still works.
    expect(recorders[1].messages).toHaveLength(0);
    transports[0].send([msg('m1', 'm2', { index: 77 })]);
    await waitFor(() => recorders[1].messages.some((m) => m.index === 77), 'a good message after the bad ones');
  });
});

describe('PeerTransport: lifecycle', () => {
  it('close() leaves no sockets, timers or immediates behind', async () => {
    const kinds = ['TCPWRAP', 'TCPServerWrap', 'Timeout', 'Immediate', 'TCPSocketWrap', 'TCPWrap'];
    const count = () => process.getActiveResourcesInfo().filter((k) => kinds.includes(k)).length;
    const before = count();
    const local = new Fixture();
    const { ids, transports, recorders } = await local.cluster(3);
    transports.forEach((t, i) => t.send(ids.filter((to) => to !== ids[i]).map((to) => msg(ids[i], to))));
    await waitFor(() => recorders.every((r) => r.messages.length === 2), 'all-to-all');
    transports[0].send([msg('m1', 'm2', { type: MessageType.Snap, snapshot: { meta: { index: 1, term: 1, confState: { voters: [], learners: [] } }, data: randomBytes(3 * 1024 * 1024) } })]);
    expect(count()).toBeGreaterThan(before);
    await local.stop();
    await waitFor(() => count() <= before, `resources back to ${before} (now: ${process.getActiveResourcesInfo().join(', ')})`, 5_000);
  });

  it('close() lets the process exit on its own (built code in a child process)', async () => {
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`npx tsc -b packages/transport\` before this test`);
    const script = fileURLToPath(new URL('./fixtures/exit-after-close.mjs', import.meta.url));
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 15_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code, `child did not exit by itself within 15 s after close(); output:\n${out}`).toBe(0);
    expect(out).toContain('closed');
  });

  it('rejects new streams once closed and stays closed', async () => {
    const { transports, recorders } = await fx.cluster(2);
    await transports[1].close();
    transports[0].send([msg('m1', 'm2')]);
    await waitFor(() => recorders[0].unreachable.includes('m2'), 'unreachable after close');
    expect(recorders[1].messages).toHaveLength(0);
    await transports[1].close();
    transports[1].send([msg('m2', 'm1')]);
  });
});
