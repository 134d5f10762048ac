// One node port of the proxy: a TCP server on the node's address that keeps trying to listen
// (with back-off) when the port is taken or not allowed, until it is closed.
import { createServer, type Server, type Socket } from 'node:net';
import { Backoff } from '@bramble/transport';

export interface PortListenerOptions {
  address: string;
  port: number;
  onConnection: (socket: Socket) => void;
  /** A listen attempt failed; another follows after `retryInMs`. */
  onListenError: (err: NodeJS.ErrnoException, retryInMs: number) => void;
  onListening?: () => void;
  /** An error of the server once listening (it keeps listening). */
  onServerError?: (err: NodeJS.ErrnoException) => void;
  retryInitialMs: number;
  retryMaxMs: number;
}

export class PortListener {
  private server: Server | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private bound = false;
  private readonly backoff: Backoff;

  constructor(private readonly o: PortListenerOptions) {
    this.backoff = new Backoff({ initialMs: o.retryInitialMs, maxMs: o.retryMaxMs, random: Math.random });
  }

  get port(): number {
    return this.o.port;
  }

  /** Bound and accepting. */
  get listening(): boolean {
    return this.bound;
  }

  start(): void {
    if (this.closed || this.server) return;
    // pauseOnConnect: nothing is read from the client until an endpoint has accepted.
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => this.o.onConnection(socket));
    this.server = server;
    server.on('error', (err: NodeJS.ErrnoException) => {
      if (this.server !== server) return;
      if (this.bound) {
        // A bound server's errors (e.g. EMFILE on accept) do not stop it listening.
        this.o.onServerError?.(err);
        return;
      }
      this.server = undefined;
      this.bound = false;
      server.close();
      if (this.closed) return;
      const delayMs = this.backoff.next();
      this.o.onListenError(err, delayMs);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.start();
      }, delayMs);
    });
    server.listen({ host: this.o.address, port: this.o.port, exclusive: true }, () => {
      if (this.server !== server || this.closed) return;
      this.bound = true;
      this.backoff.reset();
      this.o.onListening?.();
    });
  }

  /** Stop accepting (open connections are the caller's to drain). */
  close(): void {
    this.closed = true;
    this.bound = false;
    clearTimeout(this.retryTimer);
    this.server?.close();
    this.server = undefined;
  }
}
