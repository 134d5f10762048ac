// The service proxy over real sockets on 127.0.0.1: round-robin, failover on a refused connect,
// drains, listener changes, half-close, backpressure, and listen retries with events.
import { waitFor } from '@bramble/testkit';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentMetrics } from '../src/metrics.js';
import { ServiceCache } from '../src/proxy/service-cache.js';
import { ServiceProxy, type ServiceProxyOptions } from '../src/proxy/tcp-proxy.js';
import type { ProxyEventSink } from '../src/proxy/events.js';
import { closeAll, deadPort, dial, echo, endpoints, greeting, HOST, namedServer, service, silent, track } from './proxy-helpers.js';

const proxies: ServiceProxy[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const p of proxies.splice(0)) p.stop();
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await closeAll();
});

/**
 * An endpoint whose connects hang: a child process listens with a backlog of 1 and then
 * blocks its event loop, so it never accepts; once its accept queue is full the kernel drops
 * further SYNs and a connect neither succeeds nor fails.
 */
async function hangingEndpoint(): Promise<number> {
  const code = `const s = require('net').createServer();
s.listen({ port: 0, host: '${HOST}', backlog: 1 }, () => {
  console.log(s.address().port); // a synchronous write on Linux pipes
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // never accepts from here on
});`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`hanging endpoint exited (${c})`)));
    child.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
  });
  // Fill the accept queue: connect until one does not complete (a loopback connect the kernel
  // takes completes at once; a dropped SYN is only retried after 1 s).
  for (let i = 0; i < 16; i++) {
    const s = track(connect(port, HOST));
    s.on('error', () => {});
    const done = await Promise.race([new Promise((r) => s.once('connect', () => r(true))), new Promise((r) => setTimeout(() => r(false), 800))]);
    if (!done) return port;
  }
  throw new Error(`the accept queue of ${port} never filled`);
}

function startProxy(extra: Partial<ServiceProxyOptions> = {}) {
  const cache = new ServiceCache();
  const metrics = new AgentMetrics();
  const proxy = new ServiceProxy({ address: HOST, source: cache, logger: silent, metrics, listenRetryInitialMs: 50, listenRetryMaxMs: 200, ...extra });
  proxies.push(proxy);
  proxy.start();
  return { cache, metrics, proxy };
}

async function listening(proxy: ServiceProxy, port: number): Promise<void> {
  await waitFor(`the proxy to listen on ${port}`, () => proxy.listeningPorts().includes(port), 5_000, 10);
}

describe('service proxy', () => {
  it('balances new connections round-robin over the ready endpoints (not-ready ones get none)', async () => {
    const [a, b, c, idle] = await Promise.all(['a', 'b', 'c', 'idle'].map((n) => namedServer(n)));
    const port = await deadPort();
    const { cache, proxy, metrics } = startProxy();
    cache.serviceStore.upsert(service('web', [{ port }]));
    cache.endpointsStore.upsert(endpoints('web', [a.port, b.port, c.port], undefined, [idle.port]));
    await listening(proxy, port);
    await waitFor('three endpoints', () => proxy.backendsOf('default/web:').length === 3);
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push((await greeting(port)).name);
    expect(names).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect(idle.accepted).toHaveLength(0);
    expect(metrics.proxyConnections.get('default/web')).toBe(6);
    await waitFor('6 active connections', () => metrics.proxyActiveConnections.get('default/web') === 6);
    await closeAll();
    await waitFor('no active connections', () => proxy.activeConnections === 0 && metrics.proxyActiveConnections.get('default/web') === 0);
  });

  it('tries the next endpoint when a connect is refused, and closes the client when none accepts', async () => {
    const b = await namedServer('b');
    const [dead1, dead2, port] = await Promise.all([deadPort(), deadPort(), deadPort()]);
    const { cache, proxy, metrics } = startProxy();
    cache.serviceStore.upsert(service('web', [{ port }]));
    cache.endpointsStore.upsert(endpoints('web', [dead1, b.port, dead2]));
    await listening(proxy, port);
    await waitFor('three endpoints', () => proxy.backendsOf('default/web:').length === 3);
    for (let i = 0; i < 6; i++) expect((await greeting(port)).name).toBe('b');
    expect(metrics.proxyConnectFailures.get('default/web')).toBeGreaterThanOrEqual(6);
    expect(metrics.proxyRejected.get('default/web')).toBe(0);

    cache.endpointsStore.upsert(endpoints('web', [dead1, dead2]));
    await waitFor('two dead endpoints', () => proxy.backendsOf('default/web:').length === 2);
    const client = await dial(port);
    await client.ended;
    expect(client.received()).toBe('');
    await waitFor('a rejected connection counted', () => metrics.proxyRejected.get('default/web') === 1);
  });

  it('fails over when a connect times out', async () => {
    const [hanging, b] = await Promise.all([hangingEndpoint(), namedServer('b')]);
    const port = await deadPort();
    const { cache, proxy, metrics } = startProxy({ connectTimeoutMs: 200 });
    cache.serviceStore.upsert(service('web', [{ port }]));
    cache.endpointsStore.upsert(endpoints('web', [hanging, b.port]));
    await listening(proxy, port);
    await waitFor('two endpoints', () => proxy.backendsOf('default/web:').length === 2);
    const started = Date.now();
    expect((await greeting(port)).name).toBe('b'); // the hanging endpoint is first in turn
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(metrics.proxyConnectFailures.get('default/web')).toBe(1);
    expect((await greeting(port)).name).toBe('b');
    expect(metrics.proxyConnectFailures.get('default/web')).toBe(1); // b was next in turn: no wait
  });

  it('closes clients of a service with no ready endpoints', async () => {
    const port = await deadPort();
    const { cache, proxy, metrics } = startProxy();
    cache.serviceStore.upsert(service('empty', [{ port }]));
    await listening(proxy, port);
    const client = await dial(port);
    await client.ended;
    expect(client.received()).toBe('');
    await waitFor('rejected', () => metrics.proxyRejected.get('default/empty') === 1);
  });

  it('sends new connections to the new endpoint set at once and drains the removed endpoint', async () => {
    const [a, b] = await Promise.all([namedServer('a'), namedServer('b')]);
    const port = await deadPort();
    const { cache, proxy } = startProxy({ drainTimeoutMs: 400 });
    cache.serviceStore.upsert(service('web', [{ port }]));
    cache.endpointsStore.upsert(endpoints('web', [a.port]));
    await listening(proxy, port);
    await waitFor('endpoint a', () => proxy.backendsOf('default/web:').length === 1);
    const old = await greeting(port);
    expect(old.name).toBe('a');

    cache.endpointsStore.upsert(endpoints('web', [b.port]));
    proxy.sync(); // same as the scheduled pass, without waiting for it
    expect((await greeting(port)).name).toBe('b');
    expect((await greeting(port)).name).toBe('b');
    // The old connection is left to finish its work...
    expect(proxy.drainingConnections).toBe(1);
    await echo(old.client, 'still here');
    // ...and closed when the drain timeout passes.
    await waitFor('the drained connection to close', () => old.client.socket.destroyed || old.client.socket.readableEnded, 5_000, 10);
    expect(proxy.drainingConnections).toBe(0);
  });

  it('calls off a drain when the endpoint comes back', async () => {
    const [a, b] = await Promise.all([namedServer('a'), namedServer('b')]);
    const port = await deadPort();
    const { cache, proxy } = startProxy({ drainTimeoutMs: 60_000 });
    cache.serviceStore.upsert(service('web', [{ port }]));
    cache.endpointsStore.upsert(endpoints('web', [a.port]));
    await listening(proxy, port);
    await waitFor('endpoint a', () => proxy.backendsOf('default/web:').length === 1);
    const old = await greeting(port);
    cache.endpointsStore.upsert(endpoints('web', [b.port]));
    proxy.sync();
    expect(proxy.drainingConnections).toBe(1);
    cache.endpointsStore.upsert(endpoints('web', [a.port, b.port]));
    proxy.sync();
    expect(proxy.drainingConnections).toBe(0);
    await echo(old.client, 'kept');
  });

  it('replaces the listener when the service port changes and drains connections through the old port', async () => {
    const a = await namedServer('a');
    const [p1, p2] = await Promise.all([deadPort(), deadPort()]);
    const { cache, proxy } = startProxy({ drainTimeoutMs: 400 });
    cache.serviceStore.upsert(service('web', [{ port: p1 }]));
    cache.endpointsStore.upsert(endpoints('web', [a.port]));
    await listening(proxy, p1);
    await waitFor('endpoint a', () => proxy.backendsOf('default/web:').length === 1);
    const old = await greeting(p1);

    cache.serviceStore.upsert(service('web', [{ port: p2 }]));
    await listening(proxy, p2);
    expect(proxy.listeningPorts()).toEqual([p2]);
    expect((await greeting(p2)).name).toBe('a');
    await expect(dial(p1)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await echo(old.client, 'through the old port');
    await waitFor('the old port connection to close after the drain timeout', () => old.client.socket.destroyed || old.client.socket.readableEnded, 5_000, 10);
  });

  it('stops listening when the service is deleted', async () => {
    const a = await namedServer('a');
    const port = await deadPort();
    const { cache, proxy } = startProxy();
    const svc = service('web', [{ port }]);
    cache.serviceStore.upsert(svc);
    cache.endpointsStore.upsert(endpoints('web', [a.port]));
    await listening(proxy, port);
    cache.serviceStore.remove(svc);
    await waitFor('listener closed', () => proxy.listeningPorts().length === 0);
    await expect(dial(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('serves a NodePort service on its port and its nodePort, sharing one rotation', async () => {
    const [a, b] = await Promise.all([namedServer('a'), namedServer('b')]);
    const [port, nodePort] = await Promise.all([deadPort(), deadPort()]);
    const { cache, proxy } = startProxy();
    cache.serviceStore.upsert(service('web', [{ name: 'http', port, nodePort }], 'NodePort'));
    cache.endpointsStore.upsert(endpoints('web', [a.port, b.port], 'http'));
    await listening(proxy, port);
    await listening(proxy, nodePort);
    await waitFor('two endpoints', () => proxy.backendsOf('default/web:http').length === 2);
    const names = [(await greeting(port)).name, (await greeting(nodePort)).name, (await greeting(nodePort)).name, (await greeting(port)).name];
    expect(names).toEqual(['a', 'b', 'a', 'b']);
    expect(proxy.targetOf(nodePort)).toMatchObject({ service: 'default/web', via: 'nodePort' });
  });

  it('passes a half-close through: the reply still arrives after the client ended its side', async () => {
    // The pod reads the whole request (until the client's FIN), then answers and ends.
    const pod = await namedServer('upper', {
      allowHalfOpen: true,
      onSocket: (socket) => {
        let request = '';
        socket.setEncoding('utf8');
        socket.on('data', (d: string) => (request += d));
        socket.on('end', () => socket.end(request.toUpperCase()));
      },
    });
    const port = await deadPort();
    const { cache, proxy } = startProxy();
    cache.serviceStore.upsert(service('upper', [{ port }]));
    cache.endpointsStore.upsert(endpoints('upper', [pod.port]));
    await listening(proxy, port);
    await waitFor('endpoint', () => proxy.backendsOf('default/upper:').length === 1);
    const client = await dial(port);
    client.socket.end('shout this');
    await client.ended;
    expect(client.received()).toBe('SHOUT THIS');
    await waitFor('the connection to be forgotten', () => proxy.activeConnections === 0);
  });

  it('closes the client when the endpoint resets the connection', async () => {
    const pod = await namedServer('rst', { onSocket: (socket) => socket.resetAndDestroy() });
    const port = await deadPort();
    const { cache, proxy } = startProxy();
    cache.serviceStore.upsert(service('rst', [{ port }]));
    cache.endpointsStore.upsert(endpoints('rst', [pod.port]));
    await listening(proxy, port);
    await waitFor('endpoint', () => proxy.backendsOf('default/rst:').length === 1);
    const client = await dial(port);
    client.socket.on('error', () => {}); // ECONNRESET is one way the close may show
    await client.ended;
    await waitFor('the connection to be forgotten', () => proxy.activeConnections === 0);
  });

  it('applies backpressure: a pod that does not read stalls the client instead of filling the proxy', async () => {
    const total = 64 * 1024 * 1024;
    let podSocket: Socket | undefined;
    const received = createHash('sha256');
    let receivedBytes = 0;
    const pod = await namedServer('sink', {
      allowHalfOpen: true,
      onSocket: (socket) => {
        podSocket = socket;
        socket.pause(); // not reading yet
        socket.on('data', (d: Buffer) => {
          received.update(d);
          receivedBytes += d.length;
        });
        socket.on('end', () => socket.end('done'));
      },
    });
    const port = await deadPort();
    const { cache, proxy } = startProxy();
    cache.serviceStore.upsert(service('sink', [{ port }]));
    cache.endpointsStore.upsert(endpoints('sink', [pod.port]));
    await listening(proxy, port);
    await waitFor('endpoint', () => proxy.backendsOf('default/sink:').length === 1);

    const client = await dial(port);
    await waitFor('the pod to accept', () => podSocket);
    const sent = createHash('sha256');
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < total / chunk.length; i++) {
      chunk.fill(i % 251);
      sent.update(chunk);
      client.socket.write(Buffer.from(chunk));
    }
    client.socket.end();
    // With the pod not reading, only socket buffers can take data: the client's own buffer
    // stops shrinking with most of the 64 MiB still in it.
    let last = -1;
    await waitFor(
      "the client's write buffer to stop shrinking",
      async () => {
        const now = client.socket.writableLength;
        const same = now === last;
        last = now;
        if (!same) await new Promise((r) => setTimeout(r, 100));
        return same && now > 0;
      },
      10_000,
      100,
    );
    expect(client.socket.writableLength).toBeGreaterThan(total / 2);
    podSocket!.resume();
    await client.ended;
    expect(receivedBytes).toBe(total);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
    expect(client.received()).toBe('done');
  }, 30_000);

  it('retries a listen that fails (port taken), records FailedToListen, and serves once the port is free', async () => {
    const port = await deadPort();
    const blocker: Server = createServer((s) => track(s).destroy());
    await new Promise<void>((resolve) => blocker.listen(port, HOST, () => resolve()));
    const failures: Array<{ service: string; port: number; code?: string }> = [];
    const events: ProxyEventSink = { failedToListen: (target, _address, p, err) => failures.push({ service: target.service, port: p, code: err.code }) };
    const a = await namedServer('a');
    const { cache, proxy } = startProxy({ events });
    cache.serviceStore.upsert(service('web', [{ port }]));
    cache.endpointsStore.upsert(endpoints('web', [a.port]));
    await waitFor('two failed listens', () => failures.length >= 2, 5_000, 10);
    expect(failures[0]).toEqual({ service: 'default/web', port, code: 'EADDRINUSE' });
    expect(proxy.listeningPorts()).toEqual([]);
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    await listening(proxy, port);
    expect((await greeting(port)).name).toBe('a');
  });
});
