import { randomInt } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { KvError, type KvCommand, type KvResult, type Watcher } from '@bramble/kv';
import {
  bytesToString,
  deleteFromWire,
  eventToWire,
  kvToWire,
  putFromWire,
  rangeFromWire,
  rangeResponseToWire,
  requestBytes,
  stringToBytes,
  txnFromWire,
  txnResponseToWire,
  type Wire,
} from './kv-convert.js';
import { HostError, type RaftHost } from './raft-host.js';
import type { MasterStateMachine } from './state-machine.js';

export interface KvServiceOptions {
  clusterId: string;
  maxRequestBytes: number;
  requestTimeoutMs: number;
  /** A watch stream whose unsent output exceeds this is cut off (the client re-watches). */
  maxWatchBufferBytes: number;
}

type UnaryHandler = (call: grpc.ServerUnaryCall<Wire, Wire>, callback: grpc.sendUnaryData<Wire>) => void;

/** Map any error to a gRPC status whose message says what failed. */
export function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof HostError) return { code: grpc.status[err.code], details: err.message };
  if (err instanceof KvError) {
    const code = {
      compacted: grpc.status.OUT_OF_RANGE,
      future_revision: grpc.status.OUT_OF_RANGE,
      lease_not_found: grpc.status.NOT_FOUND,
      lease_exists: grpc.status.ALREADY_EXISTS,
      key_not_found: grpc.status.NOT_FOUND,
      slow_watcher: grpc.status.RESOURCE_EXHAUSTED,
      invalid: grpc.status.INVALID_ARGUMENT,
    }[err.code];
    return { code, details: err.message };
  }
  if (err && typeof err === 'object' && 'name' in err && (err as Error).name === 'ConfChangeRefusedError') {
    return { code: grpc.status.FAILED_PRECONDITION, details: (err as Error).message };
  }
  if (err && typeof err === 'object' && 'name' in err && (err as Error).name === 'ProposalDroppedError') {
    return { code: grpc.status.UNAVAILABLE, details: (err as Error).message };
  }
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

/** The KV service of proto/kv.proto, served by every master. */
export class KvService {
  constructor(
    private readonly host: RaftHost,
    private readonly opts: KvServiceOptions,
  ) {}

  private get sm(): MasterStateMachine {
    return this.host.sm;
  }

  header(): Wire {
    const status = this.host.basicStatus();
    return {
      cluster_id: this.opts.clusterId,
      member: this.host.name,
      revision: this.sm.kv.revision,
      raft_term: status.term,
      leader: status.leader,
    };
  }

  /**
   * The header of a write's response carries the revision the write produced (as in
   * etcd), not the store's revision when the response is sent: entries committed in the
   * same batch are applied before any waiting client is answered, so by then the store
   * may already be several revisions further.
   */
  private writeHeader(r: KvResult): Wire {
    return { ...this.header(), revision: r.revision };
  }

  private unary(handler: (req: Wire) => Promise<Wire>): UnaryHandler {
    return (call, callback) => {
      const size = requestBytes(call.request);
      if (size > this.opts.maxRequestBytes) {
        callback({
          code: grpc.status.INVALID_ARGUMENT,
          details: `request too large: ${size} bytes of keys and values, the limit is ${this.opts.maxRequestBytes} (--max-request-bytes)`,
        });
        return;
      }
      handler(call.request).then(
        (res) => callback(null, { header: this.header(), ...res }),
        (err) => callback(toServiceError(err)),
      );
    };
  }

  private async write(cmd: KvCommand): Promise<KvResult> {
    return this.host.propose(cmd, this.opts.requestTimeoutMs);
  }

  handlers(): grpc.UntypedServiceImplementation {
    return {
      Range: this.unary(async (req) => {
        const { serializable, ...range } = rangeFromWire(req);
        if (!serializable) await this.host.linearizableRead(this.opts.requestTimeoutMs);
        return rangeResponseToWire(this.sm.kv.range(range));
      }),
      Put: this.unary(async (req) => {
        const r = await this.write({ type: 'put', ...putFromWire(req) });
        return { header: this.writeHeader(r), prev_kv: r.type === 'put' && r.prevKv ? kvToWire(r.prevKv) : null };
      }),
      DeleteRange: this.unary(async (req) => {
        const r = await this.write({ type: 'deleteRange', ...deleteFromWire(req) });
        if (r.type !== 'deleteRange') throw new Error(`unexpected result ${r.type}`);
        return { header: this.writeHeader(r), deleted: r.deleted, prev_kvs: (r.prevKvs ?? []).map(kvToWire) };
      }),
      Txn: this.unary(async (req) => {
        const txn = txnFromWire(req);
        if (txn.success.length === 0 && txn.failure.length === 0 && txn.compare.length === 0) {
          throw new HostError('INVALID_ARGUMENT', 'txn: empty transaction (no compare, no success or failure ops)');
        }
        const r = await this.write({ type: 'txn', ...txn });
        if (r.type !== 'txn') throw new Error(`unexpected result ${r.type}`);
        return { header: this.writeHeader(r), ...txnResponseToWire(r) };
      }),
      Compact: this.unary(async (req) => {
        const revision = Number(req.revision ?? 0);
        if (!Number.isSafeInteger(revision) || revision <= 0) {
          throw new HostError('INVALID_ARGUMENT', `compact.revision: must be a positive integer (got ${String(req.revision)})`);
        }
        await this.write({ type: 'compact', revision });
        return {};
      }),
      LeaseGrant: this.unary(async (req) => {
        const ttl = Number(req.ttl ?? 0);
        if (!Number.isSafeInteger(ttl) || ttl <= 0) {
          throw new HostError('INVALID_ARGUMENT', `lease.ttl: must be a positive number of seconds (got ${String(req.ttl)})`);
        }
        const id = Number(req.id ?? 0) || randomInt(1, 2 ** 47);
        const r = await this.write({ type: 'leaseGrant', id, ttlSeconds: ttl });
        if (r.type !== 'leaseGrant') throw new Error(`unexpected result ${r.type}`);
        return { id: r.id, ttl: r.ttlSeconds };
      }),
      LeaseRevoke: this.unary(async (req) => {
        await this.write({ type: 'leaseRevoke', id: Number(req.id ?? 0) });
        return {};
      }),
      LeaseTimeToLive: this.unary(async (req) => {
        await this.host.linearizableRead(this.opts.requestTimeoutMs);
        const id = Number(req.id ?? 0);
        const info = this.sm.kv.leaseTimeToLive(id);
        if (!info) return { id, ttl: -1, granted_ttl: 0, keys: [] };
        const remainingMs = this.host.isLeader ? this.host.leaseClock.remainingMs(id, Date.now()) : undefined;
        return {
          id,
          ttl: remainingMs === undefined ? info.ttlSeconds : Math.max(0, Math.ceil(remainingMs / 1000)),
          granted_ttl: info.ttlSeconds,
          keys: req.keys ? info.keys.map(stringToBytes) : [],
        };
      }),
      LeaseKeepAlive: (call: grpc.ServerDuplexStream<Wire, Wire>) => {
        call.on('data', (req: Wire) => {
          const id = Number(req.id ?? 0);
          this.write({ type: 'leaseKeepAlive', id }).then(
            (r) => call.write({ header: this.header(), id, ttl: r.type === 'leaseKeepAlive' ? r.ttlSeconds : 0 }),
            (err) => {
              if (err instanceof KvError && err.code === 'lease_not_found') call.write({ header: this.header(), id, ttl: 0 });
              else call.destroy(Object.assign(new Error(toServiceError(err).details), toServiceError(err)));
            },
          );
        });
        call.on('end', () => call.end());
        call.on('error', () => undefined);
      },
      Watch: (call: grpc.ServerDuplexStream<Wire, Wire>) => this.serveWatch(call),
    };
  }

  private serveWatch(call: grpc.ServerDuplexStream<Wire, Wire>): void {
    const watchers = new Map<number, Watcher>();
    let nextId = 1;
    let closed = false;
    const cancelAll = (): void => {
      for (const w of watchers.values()) w.cancel('stream closed');
      watchers.clear();
    };
    const send = (msg: Wire): void => {
      if (!closed) call.write({ header: this.header(), ...msg });
    };
    const cancel = (id: number, reason: string, compactRevision = 0): void => {
      const w = watchers.get(id);
      if (w) w.cancel(reason);
      watchers.delete(id);
      send({ watch_id: id, canceled: true, cancel_reason: reason, compact_revision: compactRevision });
    };
    // When a follower installs a snapshot, its store is replaced: its watchers must re-watch.
    const onReplaced = (): void => {
      for (const id of [...watchers.keys()]) cancel(id, `state replaced by a snapshot; re-watch from revision ${this.sm.kv.revision + 1}`);
    };
    this.host.on('state-replaced', onReplaced);
    const finish = (): void => {
      if (closed) return;
      closed = true;
      this.host.off('state-replaced', onReplaced);
      cancelAll();
    };
    call.on('data', (req: Wire) => {
      if (req.request_union === 'create_request') {
        const c = req.create_request as Wire;
        const id = Number(c.watch_id || 0) || nextId++;
        if (watchers.has(id)) {
          send({ watch_id: id, created: false, canceled: true, cancel_reason: `watch id ${id} is already in use on this stream` });
          return;
        }
        const key = bytesToString(c.key);
        if (key.length === 0) {
          send({ watch_id: id, canceled: true, cancel_reason: 'watch: key must not be empty' });
          return;
        }
        send({ watch_id: id, created: true });
        try {
          const watcher = this.sm.kv.watch(
            { key, rangeEnd: bytesToString(c.range_end), startRevision: Number(c.start_revision || 0), prevKv: Boolean(c.prev_kv) },
            (events) => {
              if (closed) return;
              send({ watch_id: id, events: events.map(eventToWire) });
              if (call.writableLength > this.opts.maxWatchBufferBytes) {
                const last = events[events.length - 1].kv.modRevision;
                cancel(id, `slow watcher: more than ${this.opts.maxWatchBufferBytes} bytes unsent; cut off, re-watch from revision ${last + 1}`);
              }
            },
          );
          watchers.set(id, watcher);
        } catch (err) {
          if (err instanceof KvError && err.code === 'compacted') {
            cancel(id, err.message, this.sm.kv.compactRevision);
          } else {
            cancel(id, err instanceof Error ? err.message : String(err));
          }
        }
      } else if (req.request_union === 'cancel_request') {
        const id = Number(req.cancel_request.watch_id);
        if (watchers.has(id)) cancel(id, 'canceled by the client');
      } else if (req.request_union === 'progress_request') {
        send({ watch_id: -1 });
      }
    });
    call.on('end', () => {
      finish();
      call.end();
    });
    call.on('error', finish);
    call.on('close', finish);
  }
}
