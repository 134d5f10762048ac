/**
 * What the resource store needs from the replicated key-value store, as a small
 * interface: reads from the locally applied state, a linearizable-read barrier,
 * transactions, and watches. Two implementations: `RaftBackend` (a master: writes
 * go through the Raft log, reads wait for ReadIndex) and `KvStoreBackend` (a bare
 * KvStore, for unit tests and tools).
 */
import { ApiError } from '@bramble/api';
import { KvError, KvStore, prefixEnd, type Compare, type KeyValue, type RequestOp, type WatchEvent } from '@bramble/kv';
import { HostError, type RaftHost } from '../raft-host.js';

export interface TxnOutcome {
  succeeded: boolean;
  /** The store revision after the txn (the mod revision of everything it wrote). */
  revision: number;
}

export interface BackendWatch {
  cancel(): void;
}

export interface BackendWatchHandlers {
  /** Events of one revision, in order. */
  onEvents(events: WatchEvent[]): void;
  /** The watch ended on the server side (state replaced and history gone, ...). Not called after cancel(). */
  onError(error: Error): void;
}

export interface ResourceBackend {
  /** One key, or every key under `prefix`, from the locally applied state. */
  range(key: string, opts?: { prefix?: boolean }): { kvs: KeyValue[]; revision: number };
  /** The locally applied revision. */
  readonly revision: number;
  readonly compactRevision: number;
  /** Resolves once everything committed before the call is applied locally. */
  linearizableRead(): Promise<void>;
  /**
   * True while this backend is the Raft leader (its proposals go straight into its own
   * log). The store then skips the read barrier before a compare-and-set write: the
   * compare settles any staleness of the local read. Absent = never.
   */
  readonly isLeader?: boolean;
  /** A txn through the log; resolves once it is applied locally. */
  txn(compare: Compare[], success: RequestOp[], failure?: RequestOp[]): Promise<TxnOutcome>;
  /** Changes under `prefix` from `fromRevision` (> compactRevision), with previous values. */
  watch(prefix: string, fromRevision: number, handlers: BackendWatchHandlers): BackendWatch;
}

/** Unavailable, and certainly not applied: a client may retry even a write elsewhere. */
export class UnavailableError extends ApiError {
  constructor(
    message: string,
    readonly retrySafe: boolean,
  ) {
    super('ServiceUnavailable', message);
    this.name = 'UnavailableError';
  }
}

function rangeOf(kv: KvStore, key: string, prefix: boolean): { kvs: KeyValue[]; revision: number } {
  const r = kv.range(prefix ? { key, rangeEnd: prefixEnd(key) } : { key });
  return { kvs: r.kvs, revision: r.revision };
}

function goneError(fromRevision: number, compactRevision: number): ApiError {
  return new ApiError(
    'Gone',
    `resourceVersion ${fromRevision - 1} is too old: the store is compacted at ${compactRevision}: expired, re-list`,
  );
}

function watchStore(kv: KvStore, prefix: string, fromRevision: number, onEvents: (events: WatchEvent[]) => void): BackendWatch {
  try {
    return kv.watch({ key: prefix, rangeEnd: prefixEnd(prefix), startRevision: fromRevision, prevKv: true }, onEvents);
  } catch (err) {
    if (err instanceof KvError && err.code === 'compacted') throw goneError(fromRevision, kv.compactRevision);
    throw err;
  }
}

/** A bare KvStore: writes apply at once, reads are trivially linearizable. */
export class KvStoreBackend implements ResourceBackend {
  constructor(readonly kv: KvStore = new KvStore()) {}

  get revision(): number {
    return this.kv.revision;
  }

  get compactRevision(): number {
    return this.kv.compactRevision;
  }

  /** The only copy: always current. */
  get isLeader(): boolean {
    return true;
  }

  range(key: string, opts: { prefix?: boolean } = {}): { kvs: KeyValue[]; revision: number } {
    return rangeOf(this.kv, key, opts.prefix ?? false);
  }

  async linearizableRead(): Promise<void> {}

  async txn(compare: Compare[], success: RequestOp[], failure: RequestOp[] = []): Promise<TxnOutcome> {
    const r = this.kv.apply({ type: 'txn', compare, success, failure });
    if (r.type !== 'txn') throw new Error(`unexpected result ${r.type}`);
    return { succeeded: r.succeeded, revision: r.revision };
  }

  watch(prefix: string, fromRevision: number, handlers: BackendWatchHandlers): BackendWatch {
    return watchStore(this.kv, prefix, fromRevision, handlers.onEvents);
  }
}

export interface RaftBackendOptions {
  requestTimeoutMs: number;
}

/** The resource store's view of a master: RaftHost + its MasterStateMachine. */
export class RaftBackend implements ResourceBackend {
  constructor(
    private readonly host: RaftHost,
    private readonly opts: RaftBackendOptions,
  ) {}

  /** Read `host.sm` each time: installing a snapshot replaces it. */
  private get kv(): KvStore {
    return this.host.sm.kv;
  }

  get revision(): number {
    return this.kv.revision;
  }

  get compactRevision(): number {
    return this.kv.compactRevision;
  }

  get isLeader(): boolean {
    return this.host.isLeader === true;
  }

  range(key: string, opts: { prefix?: boolean } = {}): { kvs: KeyValue[]; revision: number } {
    return rangeOf(this.kv, key, opts.prefix ?? false);
  }

  async linearizableRead(): Promise<void> {
    try {
      await this.host.linearizableRead(this.opts.requestTimeoutMs);
    } catch (err) {
      // Nothing was written: whatever the request was, it may be retried on another master.
      if (err instanceof HostError) throw new UnavailableError(`${this.host.name}: ${err.message}`, true);
      throw err;
    }
  }

  async txn(compare: Compare[], success: RequestOp[], failure: RequestOp[] = []): Promise<TxnOutcome> {
    let r;
    try {
      r = await this.host.propose({ type: 'txn', compare, success, failure }, this.opts.requestTimeoutMs);
    } catch (err) {
      if (err instanceof HostError) {
        if (err.code === 'DEADLINE_EXCEEDED') throw new ApiError('Timeout', `${this.host.name}: ${err.message}`);
        // A dropped proposal (no leader known) or a master not running never reached the log.
        if (err.code === 'UNAVAILABLE') throw new UnavailableError(`${this.host.name}: ${err.message}`, true);
        throw new ApiError('InternalError', `${this.host.name}: ${err.message}`);
      }
      if (err instanceof Error && err.name === 'ProposalDroppedError') throw new UnavailableError(`${this.host.name}: ${err.message}`, true);
      throw err;
    }
    if (r.type !== 'txn') throw new Error(`unexpected result ${r.type}`);
    return { succeeded: r.succeeded, revision: r.revision };
  }

  /**
   * A snapshot install replaces the whole KvStore (and drops its watchers): re-watch
   * the new store from the next undelivered revision, or end with Gone if that part
   * of the history is not in the snapshot.
   */
  watch(prefix: string, fromRevision: number, handlers: BackendWatchHandlers): BackendWatch {
    let next = fromRevision;
    let canceled = false;
    const sink = (events: WatchEvent[]): void => {
      if (canceled || events.length === 0) return;
      next = events[events.length - 1].kv.modRevision + 1;
      handlers.onEvents(events);
    };
    let current = watchStore(this.kv, prefix, fromRevision, sink);
    const onReplaced = (): void => {
      current.cancel();
      try {
        current = watchStore(this.kv, prefix, next, sink);
      } catch (err) {
        stop();
        handlers.onError(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const stop = (): void => {
      canceled = true;
      this.host.off('state-replaced', onReplaced);
      current.cancel();
    };
    this.host.on('state-replaced', onReplaced);
    return { cancel: stop };
  }
}
