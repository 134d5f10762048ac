// The node's service proxy: for every ClusterIP/NodePort service port a TCP listener on
// <nodeAddress>:<port> (and :<nodePort>), balancing new connections round-robin over the
// ready endpoints on any node. Endpoint or service changes apply to new connections at once;
// connections already open to an endpoint (or through a port) that went away are drained:
// left to finish, closed after `drainTimeoutMs`.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { RoundRobin } from './balancer.js';
import { connectFirst, splice } from './connection.js';
import type { ProxyEventSink } from './events.js';
import { PortListener } from './listener.js';
import { backendsFor, listenPlan, type Backend, type ListenTarget, type ServicePortRef } from './plan.js';
import type { ServiceSource } from './service-cache.js';

/** Per service `namespace/name` (AgentMetrics has these). */
export interface ProxyMetrics {
  proxyConnections: { inc(service: string): void };
  proxyActiveConnections: { add(service: string, by: number): void };
  proxyConnectFailures: { inc(service: string): void };
  proxyRejected: { inc(service: string): void };
}

export interface ServiceProxyOptions {
  /** The node's address: listeners bind it. */
  address: string;
  source: ServiceSource;
  logger: Logger;
  metrics?: ProxyMetrics;
  events?: ProxyEventSink;
  /** How long a connection to a removed endpoint (or through a removed port) may go on. Default 30 s. */
  drainTimeoutMs?: number;
  /** A connect slower than this fails over to the next endpoint. Default 1 s. */
  connectTimeoutMs?: number;
  /** Back-off of a listen that failed (EADDRINUSE, EACCES): 1 s doubling to 30 s by default. */
  listenRetryInitialMs?: number;
  listenRetryMaxMs?: number;
}

export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 1_000;

interface Listening {
  listener: PortListener;
  target: ListenTarget;
  failures: number;
}

interface Tracked {
  client: Socket;
  ref: ServicePortRef;
  listenPort: number;
  abort: AbortController;
  upstream?: Socket;
  backend?: Backend;
  drainTimer?: NodeJS.Timeout;
}

export class ServiceProxy {
  private readonly listeners = new Map<number, Listening>();
  private readonly balancers = new Map<string, RoundRobin>();
  private readonly connections = new Set<Tracked>();
  private unsubscribe: (() => void) | undefined;
  private syncScheduled = false;
  private stopped = false;
  private lastConflicts = '';
  private readonly drainTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(private readonly o: ServiceProxyOptions) {
    this.drainTimeoutMs = o.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    this.connectTimeoutMs = o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  }

  start(): void {
    if (this.unsubscribe || this.stopped) return;
    this.unsubscribe = this.o.source.onChange(() => this.scheduleSync());
    this.sync();
  }

  /** Close every listener and every connection (the agent is going away). */
  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    for (const { listener } of this.listeners.values()) listener.close();
    this.listeners.clear();
    for (const conn of [...this.connections]) this.destroy(conn);
  }

  /** Node ports bound right now. */
  listeningPorts(): number[] {
    return [...this.listeners.values()].filter((l) => l.listener.listening).map((l) => l.listener.port).sort((a, b) => a - b);
  }

  /** What a node port serves, if anything. */
  targetOf(port: number): ListenTarget | undefined {
    return this.listeners.get(port)?.target;
  }

  /** The endpoints new connections to a service port (`namespace/name:portName`) go to, in turn order. */
  backendsOf(key: string): readonly Backend[] {
    return this.balancers.get(key)?.backends ?? [];
  }

  get activeConnections(): number {
    return this.connections.size;
  }

  /** Connections left to finish after their endpoint or port went away. */
  get drainingConnections(): number {
    return [...this.connections].filter((c) => c.drainTimer).length;
  }

  private scheduleSync(): void {
    if (this.syncScheduled || this.stopped) return;
    this.syncScheduled = true;
    // Coalesce a burst of watch events into one pass.
    setImmediate(() => {
      this.syncScheduled = false;
      if (!this.stopped) this.sync();
    });
  }

  /** Bring listeners, endpoint sets and drains in line with the source. */
  sync(): void {
    const { logger } = this.o;
    const plan = listenPlan(this.o.source.services());
    const conflicts = plan.conflicts.join('; ');
    if (conflicts && conflicts !== this.lastConflicts) logger.warn({ conflicts: plan.conflicts }, 'services claim the same node port');
    this.lastConflicts = conflicts;

    const refs = new Map<string, ListenTarget>();
    for (const target of plan.listeners.values()) refs.set(target.key, target);
    for (const [key, ref] of refs) {
      let balancer = this.balancers.get(key);
      if (!balancer) this.balancers.set(key, (balancer = new RoundRobin()));
      if (balancer.set(backendsFor(ref, this.o.source.endpoints(ref.namespace, ref.name)))) {
        logger.info({ service: ref.service, port: ref.port, endpoints: balancer.backends.map((b) => b.key) }, 'service endpoints changed');
      }
    }
    for (const key of [...this.balancers.keys()]) if (!refs.has(key)) this.balancers.delete(key);

    for (const [port, target] of plan.listeners) {
      const current = this.listeners.get(port);
      if (current) {
        if (current.target.key !== target.key) logger.info({ port, from: current.target.service, to: target.service }, 'node port now serves another service');
        current.target = target;
        continue;
      }
      this.openListener(port, target);
    }
    for (const [port, current] of [...this.listeners]) {
      if (plan.listeners.has(port)) continue;
      current.listener.close();
      this.listeners.delete(port);
      logger.info({ port, service: current.target.service }, 'stopped listening for a service');
    }
    for (const conn of this.connections) this.checkDrain(conn);
  }

  private openListener(port: number, target: ListenTarget): void {
    const { address, logger } = this.o;
    const entry: Listening = {
      target,
      failures: 0,
      listener: new PortListener({
        address,
        port,
        retryInitialMs: this.o.listenRetryInitialMs ?? 1_000,
        retryMaxMs: this.o.listenRetryMaxMs ?? 30_000,
        onConnection: (socket) => this.accept(port, socket),
        onListening: () => {
          const level = entry.failures > 0 ? 'info' : 'debug';
          logger[level]({ service: entry.target.service, address, port, via: entry.target.via, failures: entry.failures }, 'listening for a service');
          entry.failures = 0;
        },
        onServerError: (err) => logger.warn({ service: entry.target.service, address, port, code: err.code, err: errorMessage(err) }, 'service listener error'),
        onListenError: (err, retryInMs) => {
          entry.failures++;
          const fields = { service: entry.target.service, address, port, code: err.code, retryInMs: Math.round(retryInMs), failures: entry.failures };
          if (entry.failures === 1) logger.warn({ ...fields, err: errorMessage(err) }, 'cannot listen for a service; retrying');
          else logger.debug(fields, 'listen failed again');
          this.o.events?.failedToListen(entry.target, address, port, err);
        },
      }),
    };
    this.listeners.set(port, entry);
    entry.listener.start();
  }

  private accept(port: number, client: Socket): void {
    const target = this.listeners.get(port)?.target;
    if (!target || this.stopped) {
      client.destroy();
      return;
    }
    const service = target.service;
    const conn: Tracked = { client, ref: target, listenPort: port, abort: new AbortController() };
    this.connections.add(conn);
    this.o.metrics?.proxyConnections.inc(service);
    this.o.metrics?.proxyActiveConnections.add(service, 1);
    let upstreamOpen = false;
    let clientOpen = true;
    const maybeForget = (): void => {
      if (clientOpen || upstreamOpen) return;
      clearTimeout(conn.drainTimer);
      if (this.connections.delete(conn)) this.o.metrics?.proxyActiveConnections.add(service, -1);
    };
    // Errors before the upstream exists end the attempt; splice() handles them afterwards.
    const early = (): void => conn.abort.abort();
    client.on('error', early);
    client.once('close', () => {
      clientOpen = false;
      conn.abort.abort();
      maybeForget();
    });

    const order = this.balancers.get(target.key)?.order() ?? [];
    void connectFirst(order, this.connectTimeoutMs, conn.abort.signal, ({ backend, err }) => {
      this.o.metrics?.proxyConnectFailures.inc(service);
      this.o.logger.debug({ service, endpoint: backend.key, err: errorMessage(err) }, 'endpoint connect failed; trying the next');
    }).then((won) => {
      client.removeListener('error', early);
      if (!won) {
        if (!conn.abort.signal.aborted) {
          this.o.metrics?.proxyRejected.inc(service);
          this.o.logger.debug({ service, port, endpoints: order.length }, order.length ? 'no endpoint accepted; closing the client' : 'service has no ready endpoints; closing the client');
        }
        client.destroy();
        return;
      }
      const { socket, backend } = won;
      if (!clientOpen || this.stopped) {
        socket.destroy();
        return;
      }
      upstreamOpen = true;
      conn.upstream = socket;
      conn.backend = backend;
      socket.once('close', () => {
        upstreamOpen = false;
        maybeForget();
      });
      splice(client, socket);
      this.checkDrain(conn);
    });
  }

  /** Start (or call off) the drain of a connection whose endpoint or port went away (or came back). */
  private checkDrain(conn: Tracked): void {
    if (!conn.backend) return; // still connecting: it picked from the newest set
    const listening = this.listeners.get(conn.listenPort)?.target.key === conn.ref.key;
    const drain = !listening || !this.balancers.get(conn.ref.key)?.has(conn.backend.key);
    if (drain && !conn.drainTimer) {
      this.o.logger.debug({ service: conn.ref.service, endpoint: conn.backend.key, timeoutMs: this.drainTimeoutMs }, 'draining a connection');
      conn.drainTimer = setTimeout(() => {
        this.o.logger.debug({ service: conn.ref.service, endpoint: conn.backend?.key }, 'drain timeout: closing the connection');
        this.destroy(conn);
      }, this.drainTimeoutMs);
      conn.drainTimer.unref();
    } else if (!drain && conn.drainTimer) {
      clearTimeout(conn.drainTimer);
      conn.drainTimer = undefined;
    }
  }

  private destroy(conn: Tracked): void {
    clearTimeout(conn.drainTimer);
    conn.abort.abort();
    conn.client.destroy();
    conn.upstream?.destroy();
  }
}
