import { createServer } from 'node:net';

/** Ports this process handed out lately: the kernel may offer a just-closed port again. */
const handedOut = new Set<number>();
const REMEMBERED_PORTS = 4096;

/**
 * A TCP port that was free a moment ago on `host` (loopback only), never one this process
 * handed out before (a member's gRPC and HTTP ports asked for one after the other could
 * otherwise be the same).
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = await anyFreePort(host);
    if (!handedOut.has(port) || attempt >= 50) {
      handedOut.add(port);
      if (handedOut.size > REMEMBERED_PORTS) handedOut.delete(handedOut.values().next().value!);
      return port;
    }
  }
}

function anyFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Poll `fn` until it returns a truthy value, or fail after `timeoutMs` naming `what` and the last error. */
export async function waitFor<T>(what: string, fn: () => T | undefined | false | null | Promise<T | undefined | false | null>, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last instanceof Error ? last.message : String(last)})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
