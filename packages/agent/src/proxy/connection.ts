// One client connection through the proxy: connect to an endpoint (failing over to the next
// on a refused or slow connect), then pipe both ways with backpressure and half-close.
import { connect, type Socket } from 'node:net';
import type { Backend } from './plan.js';

/** Connect to one endpoint; rejects on error, on `timeoutMs` without a connect, or on abort. */
export function connectBackend(backend: Backend, timeoutMs: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: backend.host, port: backend.port, allowHalfOpen: true });
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.removeListener('error', onError);
      socket.removeListener('connect', onConnect);
      if (err) {
        socket.destroy();
        reject(err);
        return;
      }
      // Until splice() takes over: an error in between only ends this socket.
      socket.on('error', () => socket.destroy());
      resolve(socket);
    };
    const onError = (err: Error): void => finish(err);
    const onConnect = (): void => finish();
    const onAbort = (): void => finish(new Error('client went away'));
    const timer = setTimeout(() => finish(Object.assign(new Error(`connect ${backend.key}: timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once('connect', onConnect);
  });
}

export interface ConnectFailure {
  backend: Backend;
  err: Error;
}

/** Try `order` one after the other; the first that connects wins. Undefined when none did or on abort. */
export async function connectFirst(
  order: Backend[],
  timeoutMs: number,
  signal: AbortSignal,
  onFailure: (failure: ConnectFailure) => void,
): Promise<{ socket: Socket; backend: Backend } | undefined> {
  for (const backend of order) {
    if (signal.aborted) return undefined;
    try {
      return { socket: await connectBackend(backend, timeoutMs, signal), backend };
    } catch (err) {
      if (signal.aborted) return undefined;
      onFailure({ backend, err: err as Error });
    }
  }
  return undefined;
}

/**
 * Both sockets must be half-open capable (`allowHalfOpen`): an end from one side ends the
 * other's write side only, and the reverse direction keeps flowing until it ends too.
 * `pipe` pauses the source while the destination's buffer is full (backpressure). An error
 * on either side destroys both; a clean close of one leaves the other to flush and close.
 */
export function splice(client: Socket, upstream: Socket): void {
  const destroyBoth = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', destroyBoth);
  upstream.on('error', destroyBoth);
  // A side that closed before both its directions finished cut the stream short: so must the other.
  const onClose = (side: Socket, other: Socket) => (hadError: boolean) => {
    if (hadError || !side.readableEnded || !side.writableFinished) other.destroy();
  };
  client.on('close', onClose(client, upstream));
  upstream.on('close', onClose(upstream, client));
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  client.pipe(upstream);
  upstream.pipe(client);
  client.resume();
  if (upstream.destroyed) client.destroy(); // it failed before we got here
}
