// Keeping a lease alive over the LeaseKeepAlive stream: renew every third of the TTL,
// move to another master when the stream breaks, give up when the lease is gone or no
// master renewed it for a whole TTL.
import * as grpc from '@grpc/grpc-js';
import { Backoff } from '@bramble/transport';
import type { Caller } from './call.js';
import { awaitConnected, DialTimeoutError } from './endpoints.js';
import { BrambleError, cleanDetails, grpcCodeName } from './errors.js';
import { Settle, worthReconnecting } from './stream.js';
import type { LeaseId, LeaseKeepAliveHandle, LeaseKeepAliveOptions, LeaseKeepAliveResult } from './types.js';
import { headerFromWire, type Wire } from './wire.js';

export const MIN_KEEPALIVE_INTERVAL_MS = 500;

export interface KeepAliveInit {
  caller: Caller;
  id: LeaseId;
  opts: LeaseKeepAliveOptions;
  dialTimeoutMs: number;
  /** No answer to a renewal for this long: the stream is considered broken. */
  responseTimeoutMs: number;
  onDone(k: KeepAlive): void;
}

type KeepAliveStream = grpc.ClientDuplexStream<Wire, Wire>;

export class KeepAlive implements LeaseKeepAliveHandle {
  private readonly readySettle = new Settle<number>();
  private readonly closedSettle = new Settle<void>();
  private readonly backoff: Backoff;
  private readonly operation: string;
  private stream: KeepAliveStream | undefined;
  private sendTimer: NodeJS.Timeout | undefined;
  private responseTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private ttlSeconds = 0;
  private readonly startedMs = Date.now();
  private lastRenewMs: number | undefined;
  private lastFailure = '';
  private done = false;

  constructor(private readonly init: KeepAliveInit) {
    this.operation = `keep lease ${init.id} alive`;
    const retry = init.caller.opts.retry;
    this.backoff = new Backoff({ initialMs: retry.initialBackoffMs, maxMs: Math.max(retry.initialBackoffMs, retry.maxBackoffMs), random: Math.random });
    void this.connect();
  }

  get id(): LeaseId {
    return this.init.id;
  }

  get ttl(): number {
    return this.ttlSeconds;
  }

  get ready(): Promise<number> {
    return this.readySettle.promise;
  }

  get closed(): Promise<void> {
    return this.closedSettle.promise;
  }

  cancel(): void {
    if (this.done) return;
    this.finish();
    this.readySettle.reject(new BrambleError({ operation: this.operation, code: 'CANCELLED', details: 'cancelled before the first renewal' }));
    this.closedSettle.resolve();
  }

  private async connect(): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.done) return;
    const { caller } = this.init;
    if (caller.isClosed) {
      this.cancel();
      return;
    }
    const endpoint = caller.pool.preferred();
    const conn = caller.pool.connection(endpoint);
    try {
      await awaitConnected(conn.channel, Date.now() + this.init.dialTimeoutMs);
    } catch (err) {
      if (this.done) return;
      this.retryLater(endpoint, 'UNAVAILABLE', err instanceof DialTimeoutError ? `could not connect within ${this.init.dialTimeoutMs} ms` : String(err));
      return;
    }
    if (this.done) return;
    const stream = (conn.kv as unknown as { LeaseKeepAlive(md: grpc.Metadata): KeepAliveStream }).LeaseKeepAlive(caller.opts.metadata());
    this.stream = stream;
    stream.on('data', (resp: Wire) => {
      if (stream === this.stream) this.onResponse(endpoint, resp);
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (stream === this.stream) this.onStreamEnded(endpoint, err.code, err.details ?? err.message);
    });
    stream.on('status', (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK && stream === this.stream) this.onStreamEnded(endpoint, s.code, 'the master ended the keep-alive stream');
    });
    this.send(endpoint);
  }

  private send(endpoint: string): void {
    this.sendTimer = undefined;
    const stream = this.stream;
    if (this.done || !stream) return;
    stream.write({ id: this.init.id });
    if (this.responseTimer) clearTimeout(this.responseTimer);
    this.responseTimer = setTimeout(() => {
      if (stream !== this.stream || this.done) return;
      this.stream = undefined;
      stream.cancel();
      this.retryLater(endpoint, 'DEADLINE_EXCEEDED', `no answer to a renewal within ${this.init.responseTimeoutMs} ms`);
    }, this.init.responseTimeoutMs);
  }

  private onResponse(endpoint: string, resp: Wire): void {
    if (this.done) return;
    if (this.responseTimer) clearTimeout(this.responseTimer);
    this.responseTimer = undefined;
    const header = headerFromWire(resp.header);
    const ttl = Number(resp.ttl ?? 0);
    if (ttl <= 0) {
      this.fail(new BrambleError({ operation: this.operation, code: 'LEASE_EXPIRED', details: `lease ${this.init.id} has expired or does not exist (answer from ${endpoint})`, endpoint }));
      return;
    }
    this.ttlSeconds = ttl;
    this.lastRenewMs = Date.now();
    this.backoff.reset();
    this.init.caller.pool.reportSuccess(endpoint, { member: header.member, leader: header.leader });
    this.readySettle.resolve(ttl);
    const result: LeaseKeepAliveResult = { header, id: Number(resp.id ?? this.init.id), ttl };
    try {
      this.init.opts.onKeepAlive?.(result);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    const intervalMs = this.init.opts.intervalMs ?? Math.max(MIN_KEEPALIVE_INTERVAL_MS, Math.floor((ttl * 1000) / 3));
    this.sendTimer = setTimeout(() => this.send(endpoint), intervalMs);
  }

  private onStreamEnded(endpoint: string, code: number, details: string): void {
    if (this.done) return;
    this.stream = undefined;
    if (code === grpc.status.NOT_FOUND) {
      this.fail(new BrambleError({ operation: this.operation, code: 'LEASE_EXPIRED', details: `${endpoint}: ${cleanDetails(details)}`, endpoint, grpcCode: code }));
      return;
    }
    if (!worthReconnecting(code)) {
      this.fail(new BrambleError({ operation: this.operation, code: grpcCodeName(code), details: cleanDetails(details), endpoint, grpcCode: code }));
      return;
    }
    this.retryLater(endpoint, grpcCodeName(code), cleanDetails(details));
  }

  private retryLater(endpoint: string, code: string, details: string): void {
    this.clearTimers();
    this.init.caller.pool.reportFailure(endpoint);
    this.lastFailure = `${endpoint}: ${code}: ${details}`;
    const now = Date.now();
    // Before the first renewal we know no TTL: allow one request timeout, like a unary call.
    const budgetMs = this.lastRenewMs === undefined ? this.init.responseTimeoutMs : this.ttlSeconds * 1000;
    const sinceMs = now - (this.lastRenewMs ?? this.startedMs);
    if (sinceMs >= budgetMs) {
      const why =
        this.lastRenewMs === undefined
          ? `no master answered within ${sinceMs} ms (last error ${this.lastFailure})`
          : `no master renewed it for ${sinceMs} ms, longer than its ${this.ttlSeconds} s TTL; it has probably expired (last error ${this.lastFailure})`;
      this.fail(new BrambleError({ operation: this.operation, code: 'UNAVAILABLE', details: why, endpoint }));
      return;
    }
    const delayMs = Math.min(this.backoff.next(), budgetMs - sinceMs);
    this.init.caller.opts.logger.debug({ op: this.operation, endpoint, code, details, delayMs }, 'keep-alive stream failed; re-opening it');
    this.reconnectTimer = setTimeout(() => void this.connect(), delayMs);
  }

  private fail(err: Error): void {
    if (this.done) return;
    this.finish();
    this.readySettle.reject(err);
    this.closedSettle.reject(err);
    this.init.opts.onError?.(err);
  }

  private clearTimers(): void {
    for (const t of [this.sendTimer, this.responseTimer, this.reconnectTimer]) if (t) clearTimeout(t);
    this.sendTimer = this.responseTimer = this.reconnectTimer = undefined;
  }

  private finish(): void {
    this.done = true;
    this.clearTimers();
    const stream = this.stream;
    this.stream = undefined;
    if (stream) {
      try {
        stream.end();
      } catch {
        // Already broken; cancel() below releases it.
      }
      stream.cancel();
    }
    this.init.onDone(this);
  }
}
