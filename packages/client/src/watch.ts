// A watch that survives master failures: when its stream breaks it is re-created on
// another master from lastRevision + 1, so no event is lost or delivered twice.
//
// Assumes what etcd guarantees: a master sends all events of one revision in one
// response, in revision order, and `created`'s header.revision is the revision the
// watch starts after when no start revision was given.
import * as grpc from '@grpc/grpc-js';
import { Backoff } from '@bramble/transport';
import type { Caller } from './call.js';
import { awaitConnected, DialTimeoutError } from './endpoints.js';
import { BrambleError, cleanDetails, grpcCodeName, type GrpcCodeName } from './errors.js';
import { Settle, worthReconnecting } from './stream.js';
import type { ResponseHeader, WatchEvent, WatchHandle, WatchOptions } from './types.js';
import { eventFromWire, headerFromWire, type Wire } from './wire.js';

export const DEFAULT_WATCH_RECONNECT_TIMEOUT_MS = 60_000;

export type WatchListener = (events: WatchEvent[], header: ResponseHeader) => void;

export interface WatchInit {
  caller: Caller;
  operation: string;
  key: Buffer;
  rangeEnd: Buffer;
  opts: WatchOptions;
  onEvents: WatchListener;
  dialTimeoutMs: number;
  onDone(w: Watcher): void;
}

export class Watcher implements WatchHandle {
  private readonly readySettle = new Settle<void>();
  private readonly closedSettle = new Settle<void>();
  private readonly backoff: Backoff;
  private readonly reconnectTimeoutMs: number;
  /** Highest revision delivered; -1 while unknown (no start revision, not created yet). */
  private last: number;
  private stream: grpc.ClientDuplexStream<Wire, Wire> | undefined;
  private watchId: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failingSinceMs: number | undefined;
  private readonly startedMs = Date.now();
  private lastFailure = '';
  private done = false;

  constructor(private readonly init: WatchInit) {
    const start = init.opts.startRevision ?? 0;
    this.last = start > 0 ? start - 1 : -1;
    this.reconnectTimeoutMs = init.opts.reconnectTimeoutMs ?? DEFAULT_WATCH_RECONNECT_TIMEOUT_MS;
    const retry = init.caller.opts.retry;
    this.backoff = new Backoff({ initialMs: retry.initialBackoffMs, maxMs: Math.max(retry.initialBackoffMs, retry.maxBackoffMs), random: Math.random });
    void this.connect();
  }

  get ready(): Promise<void> {
    return this.readySettle.promise;
  }

  get closed(): Promise<void> {
    return this.closedSettle.promise;
  }

  get lastRevision(): number {
    return Math.max(this.last, 0);
  }

  cancel(): void {
    if (this.done) return;
    this.finish();
    this.readySettle.reject(new BrambleError({ operation: this.init.operation, code: 'CANCELLED', details: 'the watch was cancelled before it was established' }));
    this.closedSettle.resolve();
  }

  private async connect(): Promise<void> {
    this.timer = undefined;
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
      const why = err instanceof DialTimeoutError ? `could not connect within ${this.init.dialTimeoutMs} ms` : String(err);
      this.retryLater(endpoint, 'UNAVAILABLE', why);
      return;
    }
    if (this.done) return;
    const stream = (conn.kv as unknown as { Watch(md: grpc.Metadata): grpc.ClientDuplexStream<Wire, Wire> }).Watch(caller.opts.metadata());
    this.stream = stream;
    this.watchId = undefined;
    stream.on('data', (resp: Wire) => {
      if (stream === this.stream) this.onResponse(endpoint, resp);
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (stream === this.stream) this.onStreamEnded(endpoint, err.code, err.details ?? err.message);
    });
    stream.on('status', (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK && stream === this.stream) this.onStreamEnded(endpoint, s.code, 'the master ended the watch stream');
    });
    const startRevision = this.last >= 0 ? this.last + 1 : 0;
    stream.write({
      create_request: {
        key: this.init.key,
        range_end: this.init.rangeEnd,
        start_revision: startRevision,
        prev_kv: this.init.opts.prevKv ?? false,
        watch_id: 0,
      },
    });
    caller.opts.logger.debug({ op: this.init.operation, endpoint, revision: startRevision }, 'watch stream opened');
  }

  private onResponse(endpoint: string, resp: Wire): void {
    if (this.done) return;
    const header = headerFromWire(resp.header);
    if (resp.canceled) {
      this.onCanceled(endpoint, resp);
      return;
    }
    if (resp.created) {
      this.watchId = Number(resp.watch_id ?? 0);
      this.failingSinceMs = undefined;
      this.backoff.reset();
      this.init.caller.pool.reportSuccess(endpoint, { member: header.member, leader: header.leader });
      if (this.last < 0) this.last = header.revision;
      this.readySettle.resolve();
    }
    const events = ((resp.events ?? []) as Wire[]).map(eventFromWire).filter((e) => e.kv.modRevision > this.last);
    if (events.length === 0) return;
    this.last = Math.max(...events.map((e) => e.kv.modRevision));
    try {
      this.init.onEvents(events, header);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private onCanceled(endpoint: string, resp: Wire): void {
    const compactRevision = Number(resp.compact_revision ?? 0);
    if (compactRevision > 0) {
      const from = this.last + 1;
      this.fail(
        new BrambleError({
          operation: this.init.operation,
          code: 'COMPACTED',
          details: `revision ${from} has been compacted; history starts at compact revision ${compactRevision}: re-read and watch from there`,
          endpoint,
          compactRevision,
        }),
      );
      return;
    }
    const reason = String(resp.cancel_reason ?? '') || 'no reason given';
    this.fail(new BrambleError({ operation: this.init.operation, code: 'WATCH_CANCELED', details: `cancelled by ${endpoint}: ${reason}`, endpoint }));
  }

  private onStreamEnded(endpoint: string, code: number, details: string): void {
    if (this.done) return;
    this.stream = undefined;
    if (!worthReconnecting(code)) {
      this.fail(new BrambleError({ operation: this.init.operation, code: grpcCodeName(code), details: cleanDetails(details), endpoint, grpcCode: code }));
      return;
    }
    this.retryLater(endpoint, grpcCodeName(code), cleanDetails(details));
  }

  private retryLater(endpoint: string, code: GrpcCodeName, details: string): void {
    const { caller } = this.init;
    caller.pool.reportFailure(endpoint);
    this.lastFailure = `${endpoint}: ${code}: ${details}`;
    const now = Date.now();
    // Until the watch was first established, fail as fast as a unary call would.
    const established = this.readySettle.settled;
    const sinceMs = now - (this.failingSinceMs ??= established ? now : this.startedMs);
    const budgetMs = established ? this.reconnectTimeoutMs : Math.min(this.reconnectTimeoutMs, caller.opts.requestTimeoutMs);
    if (sinceMs >= budgetMs) {
      const details = established
        ? `no master accepted the watch for ${sinceMs} ms (last error ${this.lastFailure}); resume from revision ${this.lastRevision + 1}`
        : `could not start the watch within ${sinceMs} ms (last error ${this.lastFailure})`;
      this.fail(new BrambleError({ operation: this.init.operation, code: 'UNAVAILABLE', details, endpoint }));
      return;
    }
    const delayMs = Math.min(this.backoff.next(), budgetMs - sinceMs);
    caller.opts.logger.debug({ op: this.init.operation, endpoint, code, details, delayMs, revision: this.lastRevision }, 'watch stream failed; re-creating it');
    this.timer = setTimeout(() => void this.connect(), delayMs);
  }

  private fail(err: Error): void {
    if (this.done) return;
    this.finish();
    this.init.caller.opts.logger.debug({ op: this.init.operation, err: err.message }, 'watch failed');
    this.readySettle.reject(err);
    this.closedSettle.reject(err);
    this.init.opts.onError?.(err);
  }

  /** Stop everything: timers, the stream (telling the master when we can). */
  private finish(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const stream = this.stream;
    this.stream = undefined;
    if (stream) {
      try {
        if (this.watchId !== undefined) stream.write({ cancel_request: { watch_id: this.watchId } });
        stream.end();
      } catch {
        // The stream is already broken; cancel() below is all that is left to do.
      }
      stream.cancel();
    }
    this.init.onDone(this);
  }
}
