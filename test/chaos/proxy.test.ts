// The chaos tool's link proxies against a local echo server: pass, blackhole (drop and
// hold), reset, delay, and a one-way cut in a mesh of two members.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '@bramble/testkit';
import { LinkProxy, ProxyMesh } from '../../scripts/src/chaos/proxy.js';

interface Echo {
  server: Server;
  address: string;
  /** Bytes the echo server has received, over all connections. */
  received: () => number;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function echoServer(): Promise<Echo> {
  let received = 0;
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.on('data', (d) => {
      received += d.length;
      s.write(d);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { server, address: `127.0.0.1:${(server.address() as { port: number }).port}`, received: () => received };
}

async function proxyTo(target: string): Promise<LinkProxy> {
  const p = await LinkProxy.listen('a->b', '127.0.0.1', target);
  cleanups.push(() => p.close());
  return p;
}

/** A client connection that collects what it reads and how it ended. */
interface Client {
  socket: Socket;
  data: () => string;
  ended: () => string | undefined;
}

async function dial(address: string): Promise<Client> {
  const colon = address.lastIndexOf(':');
  const socket = connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
  let data = '';
  let ended: string | undefined;
  socket.on('data', (d) => (data += d.toString()));
  socket.on('error', (err: NodeJS.ErrnoException) => (ended = err.code ?? err.message));
  socket.on('close', () => (ended ??= 'closed'));
  cleanups.push(() => void socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return { socket, data: () => data, ended: () => ended };
}

/** Nothing may arrive for `ms`: an absence can only be observed over a window. */
async function quietFor(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

describe('LinkProxy', () => {
  it('pass: forwards both directions', async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo.address);
    const c = await dial(proxy.address);
    c.socket.write('hello');
    await waitFor('the echo', () => c.data() === 'hello', 2000);
    expect(proxy.connections).toBe(1);
  });

  it('blackhole(drop): accepts and throws bytes away; healing resets those connections, new ones pass', async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo.address);
    const open = await dial(proxy.address);
    open.socket.write('before');
    await waitFor('the echo before the cut', () => open.data() === 'before', 2000);

    proxy.setMode({ kind: 'blackhole', how: 'drop' });
    const fresh = await dial(proxy.address); // accepted: the dialer cannot tell
    open.socket.write('lost-1');
    fresh.socket.write('lost-2');
    await waitFor('the proxy to drop both writes', () => proxy.stats.droppedBytes >= 12, 2000);
    await quietFor(200);
    expect(echo.received()).toBe('before'.length);
    expect(open.data()).toBe('before');
    expect(fresh.data()).toBe('');

    proxy.setMode({ kind: 'pass' });
    await waitFor('both broken connections to be reset', () => open.ended() && fresh.ended(), 2000);
    const after = await dial(proxy.address);
    after.socket.write('after');
    await waitFor('the echo after healing', () => after.data() === 'after', 2000);
  });

  it('blackhole(hold): nothing is delivered while cut; healing delivers what was held on the same connection', async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo.address);
    const open = await dial(proxy.address);
    open.socket.write('a');
    await waitFor('the first echo', () => open.data() === 'a', 2000);

    proxy.setMode({ kind: 'blackhole', how: 'hold' });
    const fresh = await dial(proxy.address);
    open.socket.write('b');
    fresh.socket.write('c');
    await quietFor(300);
    expect(echo.received()).toBe(1);
    expect(open.data()).toBe('a');
    expect(fresh.data()).toBe('');

    proxy.setMode({ kind: 'pass' });
    await waitFor('the held bytes, late', () => open.data() === 'ab' && fresh.data() === 'c', 2000);
    expect(open.ended()).toBeUndefined();
    expect(fresh.ended()).toBeUndefined();
  });

  it('reset: open connections are reset and new ones refused', async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo.address);
    const open = await dial(proxy.address);
    open.socket.write('x');
    await waitFor('the echo', () => open.data() === 'x', 2000);

    proxy.setMode({ kind: 'reset' });
    await waitFor('the open connection to be reset', () => open.ended() === 'ECONNRESET', 2000);
    const refused = await dial(proxy.address).catch((err: NodeJS.ErrnoException) => err);
    if (!(refused instanceof Error)) {
      refused.socket.write('y');
      await waitFor('the new connection to be reset', () => refused.ended(), 2000);
      expect(refused.data()).toBe('');
    }
    expect(echo.received()).toBe(1);

    proxy.setMode({ kind: 'pass' });
    const after = await dial(proxy.address);
    after.socket.write('z');
    await waitFor('the echo after healing', () => after.data() === 'z', 2000);
  });

  it('delay: every chunk arrives later by the delay, each way, in order', async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo.address);
    proxy.setMode({ kind: 'delay', ms: 150 });
    const c = await dial(proxy.address);
    const sentAt = performance.now();
    for (const part of ['1', '2', '3', '4', '5']) c.socket.write(part);
    await waitFor('all five echoes', () => c.data().length === 5, 3000, 5);
    const roundTripMs = performance.now() - sentAt;
    expect(c.data()).toBe('12345');
    expect(roundTripMs).toBeGreaterThanOrEqual(290); // 150 ms there and 150 ms back
    proxy.setMode({ kind: 'pass' });
    const t = performance.now();
    c.socket.write('6');
    await waitFor('an undelayed echo', () => c.data() === '123456', 2000, 5);
    expect(performance.now() - t).toBeLessThan(150);
  });
});

describe('ProxyMesh', () => {
  it('one-way: cutting a->b leaves b->a passing', async () => {
    const [echoA, echoB] = [await echoServer(), await echoServer()];
    const mesh = await ProxyMesh.create(['a', 'b']);
    cleanups.push(() => mesh.close());
    const ab = mesh.peerAddressFor('a', 'b', echoB.address);
    const ba = mesh.peerAddressFor('b', 'a', echoA.address);
    expect(mesh.linksOf('a')).toEqual(expect.arrayContaining([['a', 'b'], ['b', 'a']]));
    expect(mesh.linksAcross(['a'])).toHaveLength(2);

    mesh.set([['a', 'b']], { kind: 'blackhole', how: 'drop' });
    const cut = await dial(ab);
    const open = await dial(ba);
    cut.socket.write('to-b');
    open.socket.write('to-a');
    await waitFor('b->a to pass', () => open.data() === 'to-a', 2000);
    await waitFor('a->b to drop', () => mesh.link('a', 'b').stats.droppedBytes >= 4, 2000);
    expect(echoB.received()).toBe(0);

    mesh.healAll();
    const healed = await dial(ab);
    healed.socket.write('again');
    await waitFor('a->b to pass after healing', () => healed.data() === 'again', 2000);
  });
});
