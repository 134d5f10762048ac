// KubeletClient against an in-process Kubelet service: streamed logs (tail, follow, cancel),
// errors as BrambleErrors, stats converted from the wire, and an agent that is down.
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serviceDefinition } from '@bramble/transport';
import { BrambleError, KubeletClient } from '../src/index.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Wire = Record<string, any>;

let server: grpc.Server;
let endpoint: string;
const requests: Wire[] = [];
const open = new Set<grpc.ServerWritableStream<Wire, Wire>>();
let cancelled = 0;

beforeEach(async () => {
  requests.length = 0;
  cancelled = 0;
  server = new grpc.Server();
  server.addService(serviceDefinition('agent.proto', 'bramble.agent.Kubelet'), {
    Logs: (stream: grpc.ServerWritableStream<Wire, Wire>) => {
      const r = stream.request;
      requests.push(r);
      if (r.pod === 'missing') {
        stream.emit('error', { code: grpc.status.NOT_FOUND, details: 'pod default/missing has no container "app" on this node' });
        return;
      }
      const lines = ['a\n', 'b\n', 'c\n'];
      const shown = r.has_tail ? lines.slice(Math.max(0, lines.length - Number(r.tail_lines))) : lines;
      for (const l of shown) stream.write({ data: Buffer.from(l) });
      if (!r.follow) return stream.end();
      open.add(stream);
      stream.on('cancelled', () => {
        cancelled++;
        open.delete(stream);
      });
    },
    Stats: (_call: unknown, cb: grpc.sendUnaryData<Wire>) =>
      cb(null, {
        node_name: 'node1',
        memory_bytes: 1000,
        cpu_millicores: 250,
        agent_memory_bytes: 300,
        pods: [{ namespace: 'default', name: 'web-1', containers: [{ name: 'app', memory_bytes: 700, cpu_millicores: 200 }] }],
      }),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  endpoint = `127.0.0.1:${port}`;
});

afterEach(() => {
  for (const s of open) s.end();
  open.clear();
  server.forceShutdown();
});

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('KubeletClient', () => {
  it('streams a log to its end, with the request fields on the wire', async () => {
    const k = new KubeletClient(endpoint);
    try {
      let text = '';
      const h = k.logs({ namespace: 'default', pod: 'web-1', container: 'app', tailLines: 2, previous: true }, (d) => (text += d.toString()));
      await h.done;
      expect(text).toBe('b\nc\n');
      expect(requests[0]).toMatchObject({ namespace: 'default', pod: 'web-1', container: 'app', follow: false, tail_lines: 2, has_tail: true, previous: true });
      await k.logs({ namespace: 'default', pod: 'web-1' }, () => {}).done;
      expect(requests[1]).toMatchObject({ container: '', has_tail: false, previous: false });
    } finally {
      k.close();
    }
  });

  it('follows until cancel(), which ends the stream on the server too', async () => {
    const k = new KubeletClient(endpoint);
    try {
      let text = '';
      const h = k.logs({ namespace: 'default', pod: 'web-1', follow: true }, (d) => (text += d.toString()));
      await waitFor('the follower', () => open.size === 1 && text === 'a\nb\nc\n');
      for (const s of open) s.write({ data: Buffer.from('d\n') });
      await waitFor('the new line', () => text.endsWith('d\n'));
      h.cancel();
      await expect(h.done).resolves.toBeUndefined();
      await waitFor('the server to see the cancel', () => cancelled === 1);
    } finally {
      k.close();
    }
  });

  it("an agent's error becomes a BrambleError naming the pod and the kubelet", async () => {
    const k = new KubeletClient(endpoint);
    try {
      const err = await k.logs({ namespace: 'default', pod: 'missing' }, () => {}).done.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BrambleError);
      expect((err as BrambleError).code).toBe('NOT_FOUND');
      expect((err as Error).message).toBe(`logs of pod default/missing from kubelet ${endpoint}: NOT_FOUND: pod default/missing has no container "app" on this node`);
    } finally {
      k.close();
    }
  });

  it('stats converted to numbers and camelCase', async () => {
    const k = new KubeletClient(endpoint);
    try {
      expect(await k.stats()).toEqual({
        nodeName: 'node1',
        memoryBytes: 1000,
        cpuMillicores: 250,
        agentMemoryBytes: 300,
        pods: [{ namespace: 'default', name: 'web-1', containers: [{ name: 'app', memoryBytes: 700, cpuMillicores: 200 }] }],
      });
    } finally {
      k.close();
    }
  });

  it('a kubelet that is not there fails within the timeout with UNAVAILABLE; bad arguments are refused', async () => {
    const port = Number(endpoint.split(':')[1]);
    server.forceShutdown();
    const k = new KubeletClient(`127.0.0.1:${port}`, { timeoutMs: 300 });
    try {
      const started = Date.now();
      const err = (await k.stats().catch((e: unknown) => e)) as BrambleError;
      expect(err).toBeInstanceOf(BrambleError);
      expect(err.code).toBe('UNAVAILABLE');
      expect(err.message).toContain("cannot connect to the node's kubelet within 300 ms");
      expect(Date.now() - started).toBeLessThan(3_000);
      const logErr = (await k.logs({ namespace: 'default', pod: 'x' }, () => {}).done.catch((e: unknown) => e)) as BrambleError;
      expect(logErr.code).toBe('UNAVAILABLE');
    } finally {
      k.close();
    }
    expect(() => new KubeletClient('no-port')).toThrow(/kubelet endpoint: must be HOST:PORT/);
    const k2 = new KubeletClient('127.0.0.1:1');
    try {
      expect(() => k2.logs({ namespace: 'default', pod: 'x', tailLines: -1 }, () => {})).toThrow(/tailLines: must be a non-negative integer/);
    } finally {
      k2.close();
    }
  });
});
