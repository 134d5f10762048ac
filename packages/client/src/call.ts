// Running one logical call against the masters: deadline, failover to the next endpoint
// with back-off, and the rule that a write is only repeated when it provably never left.
import * as grpc from '@grpc/grpc-js';
import { Backoff } from '@bramble/transport';
import { awaitConnected, DialTimeoutError, type Connection, type EndpointPool } from './endpoints.js';
import { BrambleError, fromServiceError, isServiceError, type AttemptFailure } from './errors.js';

/**
 * Trailing metadata a master may set on a failed call to say the request was certainly
 * not applied (e.g. a proposal dropped because no leader is known), so that even a
 * write may be retried on another master.
 */
export const RETRY_SAFE_METADATA = 'bramble-retry-safe';

export interface RetryPolicy {
  /** Attempts per call, across all endpoints (a bound; the deadline usually ends a call first). */
  maxAttempts: number;
  /** Back-off after every endpoint failed once, doubling per round up to maxBackoffMs. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Deadline of one attempt of a read, so a hung master leaves time to ask another. Default: half the request timeout. */
  attemptTimeoutMs?: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 50, initialBackoffMs: 50, maxBackoffMs: 1_000 };

/** The subset of pino the client uses. */
export interface ClientLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export const silentLogger: ClientLogger = { debug() {}, warn() {} };

export interface CallContext {
  conn: Connection;
  endpoint: string;
  /** Absolute deadline of this attempt, for grpc's `deadline` call option. */
  deadline: Date;
  metadata: grpc.Metadata;
  /** Register the underlying grpc call so `close()` can cancel it. */
  track(call: { cancel(): void }): () => void;
}

export interface CallSpec<T> {
  /** What is being done, for error messages: `put "foo"`. */
  operation: string;
  /** Reads: safe to repeat after an unknown outcome. Writes are repeated only when never sent. */
  idempotent: boolean;
  /** Ask only this endpoint, once (status of one master). */
  endpoint?: string;
  run(ctx: CallContext): Promise<T>;
  /** Who answered and who it says leads, from the result, so later calls go to the leader. */
  learn?(result: T): { member?: string; leader?: string };
}

export interface CallerOptions {
  pool: EndpointPool;
  requestTimeoutMs: number;
  dialTimeoutMs: number;
  retry: RetryPolicy;
  logger: ClientLogger;
  metadata: () => grpc.Metadata;
  random?: () => number;
}

type Verdict = 'retry' | 'unknown-outcome' | 'fatal';

export class Caller {
  private readonly active = new Set<{ cancel(): void }>();
  private closed = false;

  constructor(readonly opts: CallerOptions) {}

  get pool(): EndpointPool {
    return this.opts.pool;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  closedError(operation: string): BrambleError {
    return new BrambleError({ operation, code: 'CLOSED', details: 'the client was closed' });
  }

  /** Run `spec` with failover until it succeeds, fails for good, or the request deadline passes. */
  async call<T>(spec: CallSpec<T>): Promise<T> {
    if (this.closed) throw this.closedError(spec.operation);
    const { requestTimeoutMs, retry } = this.opts;
    const startMs = Date.now();
    const deadlineMs = startMs + requestTimeoutMs;
    const order = spec.endpoint !== undefined ? [spec.endpoint] : this.pool.order();
    const maxAttempts = spec.endpoint !== undefined ? 1 : Math.max(1, retry.maxAttempts);
    const backoff = new Backoff({
      initialMs: retry.initialBackoffMs,
      maxMs: Math.max(retry.initialBackoffMs, retry.maxBackoffMs),
      random: this.opts.random ?? Math.random,
    });
    const failures: AttemptFailure[] = [];
    let lastError: BrambleError | undefined;

    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      if (attempt > 0 && attempt % order.length === 0) {
        const waitMs = Math.min(backoff.next(), deadlineMs - Date.now());
        if (waitMs > 0) await sleep(waitMs);
      }
      if (this.closed) throw this.closedError(spec.operation);
      if (Date.now() >= deadlineMs) break;
      const endpoint = order[attempt % order.length];
      const outcome = await this.attempt(spec, endpoint, deadlineMs);
      if (outcome.ok) {
        const learned = spec.learn?.(outcome.value) ?? {};
        this.pool.reportSuccess(endpoint, learned);
        return outcome.value;
      }
      const { verdict, error } = outcome;
      if (this.closed) throw this.closedError(spec.operation);
      if (verdict === 'fatal') {
        // A definite answer from a master (e.g. INVALID_ARGUMENT) says nothing bad about it.
        if (error.code === 'UNAVAILABLE' || error.code === 'DEADLINE_EXCEEDED' || error.code === 'CANCELLED') this.pool.reportFailure(endpoint);
        throw error;
      }
      this.pool.reportFailure(endpoint);
      if (verdict === 'unknown-outcome') {
        throw new BrambleError({
          operation: spec.operation,
          code: 'UNKNOWN_OUTCOME',
          details:
            `sent to ${endpoint} but no answer came back (${error.code}: ${error.details}); ` +
            'it may or may not have been applied, so it was not repeated',
          endpoint,
          grpcCode: error.grpcCode,
          attempts: [...failures, { endpoint, code: error.code as AttemptFailure['code'], details: error.details }],
        });
      }
      failures.push({ endpoint, code: error.code as AttemptFailure['code'], details: error.details });
      lastError = error;
      this.opts.logger.debug({ op: spec.operation, endpoint, code: error.code, details: error.details, attempt: attempt + 1 }, 'call failed; trying another master');
    }
    throw this.exhausted(spec, failures, lastError, Date.now() - startMs);
  }

  private async attempt<T>(
    spec: CallSpec<T>,
    endpoint: string,
    deadlineMs: number,
  ): Promise<{ ok: true; value: T } | { ok: false; verdict: Verdict; error: BrambleError }> {
    let conn: Connection;
    try {
      conn = this.pool.connection(endpoint);
    } catch {
      return { ok: false, verdict: 'fatal', error: this.closedError(spec.operation) };
    }
    const dialStartMs = Date.now();
    const dialDeadlineMs = Math.min(deadlineMs, dialStartMs + this.opts.dialTimeoutMs);
    try {
      await awaitConnected(conn.channel, dialDeadlineMs);
    } catch (err) {
      if (this.closed) return { ok: false, verdict: 'fatal', error: this.closedError(spec.operation) };
      const details = err instanceof DialTimeoutError ? `could not connect within ${dialDeadlineMs - dialStartMs} ms` : String(err);
      return {
        ok: false,
        verdict: 'retry',
        error: new BrambleError({ operation: spec.operation, code: 'UNAVAILABLE', details, endpoint }),
      };
    }
    const attemptTimeoutMs = this.opts.retry.attemptTimeoutMs ?? Math.ceil(this.opts.requestTimeoutMs / 2);
    const attemptDeadlineMs = spec.idempotent && spec.endpoint === undefined ? Math.min(deadlineMs, Date.now() + attemptTimeoutMs) : deadlineMs;
    const track = (call: { cancel(): void }): (() => void) => {
      this.active.add(call);
      return () => this.active.delete(call);
    };
    try {
      const value = await spec.run({ conn, endpoint, deadline: new Date(attemptDeadlineMs), metadata: this.opts.metadata(), track });
      return { ok: true, value };
    } catch (err) {
      if (this.closed) return { ok: false, verdict: 'fatal', error: this.closedError(spec.operation) };
      if (err instanceof BrambleError) return { ok: false, verdict: 'fatal', error: err };
      if (!isServiceError(err)) throw err;
      const error = fromServiceError(spec.operation, endpoint, err);
      return { ok: false, verdict: classify(err, spec.idempotent), error };
    }
  }

  private exhausted(spec: CallSpec<unknown>, failures: AttemptFailure[], lastError: BrambleError | undefined, elapsedMs: number): BrambleError {
    if (!lastError) {
      return new BrambleError({ operation: spec.operation, code: 'DEADLINE_EXCEEDED', details: `no attempt made within ${this.opts.requestTimeoutMs} ms` });
    }
    // One endpoint asked once: its own error says it all.
    if (spec.endpoint !== undefined) return lastError;
    const lastByEndpoint = new Map<string, AttemptFailure>();
    for (const f of failures) lastByEndpoint.set(f.endpoint, f);
    const perEndpoint = [...lastByEndpoint.values()].map((f) => (f.details.startsWith(`${f.endpoint}:`) ? f.details : `${f.endpoint}: ${f.details}`));
    const n = failures.length;
    return new BrambleError({
      operation: spec.operation,
      code: lastError.code,
      details: `${perEndpoint.join('; ')} (${n} attempt${n === 1 ? '' : 's'} in ${elapsedMs} ms)`,
      endpoint: lastError.endpoint,
      grpcCode: lastError.grpcCode,
      attempts: failures,
    });
  }

  /** Cancel every call in flight and refuse new ones. */
  close(): void {
    this.closed = true;
    for (const c of this.active) c.cancel();
    this.active.clear();
  }
}

/**
 * What a failed attempt means for the call:
 * - never sent (grpc-js found no connection, or the master marked it retry-safe): try another master;
 * - sent, then UNAVAILABLE / DEADLINE_EXCEEDED / CANCELLED (not by us): a read tries another master,
 *   a write's outcome is unknown;
 * - anything else is the master's answer: surface it.
 */
export function classify(err: grpc.ServiceError, idempotent: boolean): Verdict {
  if (neverSent(err)) return 'retry';
  // CANCELLED that we did not ask for: the master cancelled it while going down (grpc-js's forceShutdown).
  if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED || err.code === grpc.status.CANCELLED) {
    return idempotent ? 'retry' : 'unknown-outcome';
  }
  return 'fatal';
}

/** True when the request provably did not reach a master's handler. */
export function neverSent(err: grpc.ServiceError): boolean {
  const details = err.details ?? '';
  if (err.code === grpc.status.UNAVAILABLE && details.startsWith('No connection established')) return true;
  if (err.code === grpc.status.DEADLINE_EXCEEDED && details.includes('Waiting for LB pick')) return true;
  const marks = err.metadata?.get(RETRY_SAFE_METADATA) ?? [];
  return marks.some((v) => String(v) === 'true');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Promise around a unary method of a generic grpc-js client, registered for cancellation. */
export function unary<Res>(client: grpc.Client, method: string, request: object, ctx: CallContext, onMetadata?: (md: grpc.Metadata) => void): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const fn = (client as unknown as Record<string, Function>)[method];
    if (typeof fn !== 'function') {
      reject(new TypeError(`grpc client has no method ${method}`));
      return;
    }
    let untrack = (): void => {};
    const call = fn.call(client, request, ctx.metadata, { deadline: ctx.deadline }, (err: grpc.ServiceError | null, res: Res) => {
      untrack();
      if (err) reject(err);
      else resolve(res);
    }) as grpc.ClientUnaryCall;
    if (onMetadata) call.on('metadata', onMetadata);
    untrack = ctx.track(call);
  });
}
