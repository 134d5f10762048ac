// BrambleClient: the typed KV and Cluster API of a set of masters.
import * as grpc from '@grpc/grpc-js';
import { Caller, DEFAULT_RETRY_POLICY, silentLogger, unary, type CallContext, type ClientLogger, type RetryPolicy } from './call.js';
import { EndpointPool } from './endpoints.js';
import { BrambleError } from './errors.js';
import { KeepAlive } from './keepalive.js';
import { NodesClient, TokensClient } from './nodes.js';
import { ResourcesClient } from './resources.js';
import { Watcher, type WatchListener } from './watch.js';
import type {
  Bytes,
  CompactResult,
  DeleteOptions,
  DeleteResult,
  EndpointStatus,
  GetOptions,
  LeaseGrantResult,
  LeaseId,
  LeaseKeepAliveHandle,
  LeaseKeepAliveOptions,
  LeaseKeepAliveResult,
  LeaseRevokeResult,
  LeaseTimeToLiveResult,
  MemberAddResult,
  MemberListResult,
  MembersResult,
  PutOptions,
  PutResult,
  RangeResult,
  ResponseHeader,
  StatusResult,
  TransferLeaderResult,
  TxnResult,
  TxnSpec,
  WatchHandle,
  WatchOptions,
} from './types.js';
import {
  deleteFromWire,
  deleteRequest,
  headerFromWire,
  keyRange,
  memberFromWire,
  putFromWire,
  putRequest,
  rangeFromWire,
  rangeRequest,
  statusFromWire,
  txnFromWire,
  txnRequest,
  type Wire,
} from './wire.js';

/** The masters refuse requests larger than this (etcd's default, `maxRequestBytes`). */
export const SERVER_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
/** We let requests up to this through, so that the master, not the client, rejects an oversized one with its clear error. */
export const CLIENT_MAX_SEND_BYTES = 2 * 1024 * 1024;
/** Largest response accepted (a big range). */
export const DEFAULT_MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

export interface ClientOptions {
  /** Masters' gRPC addresses, host:port. Any of them serves any call. */
  endpoints: string[];
  /** Give up connecting to one master after this long and try the next. Default 2 000 ms. */
  dialTimeoutMs?: number;
  /** Overall deadline of one call, failover included. Default 5 000 ms. */
  requestTimeoutMs?: number;
  retries?: Partial<RetryPolicy>;
  logger?: ClientLogger;
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  maxReceiveMessageBytes?: number;
  /** Extra grpc-js channel options (tests). */
  channelOptions?: grpc.ChannelOptions;
  /**
   * Resource watches go to a follower once the leader is known (agents: spreads the event
   * streams over the masters). A member cut off from the leader ends its watches, so they
   * move on rather than go quiet. Default false: every call starts at the leader.
   */
  spreadWatches?: boolean;
  /**
   * Unary calls also start at that follower (with spreadWatches: the same one), failing over to
   * the others: many clients (agents) then load the followers with their requests' work, and
   * the leader only with the proposals they forward. Default false.
   */
  spreadCalls?: boolean;
}

function quote(key: Bytes): string {
  return JSON.stringify(typeof key === 'string' ? key : Buffer.from(key).toString('utf8'));
}

function describeRange(key: Bytes, opts: { prefix?: boolean; rangeEnd?: Bytes }): string {
  if (opts.rangeEnd !== undefined) return `${quote(key)}..${quote(opts.rangeEnd)}`;
  return opts.prefix ? `prefix ${quote(key)}` : quote(key);
}

function positiveInt(v: unknown, field: string, allowZero = false): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || (!allowZero && v === 0)) {
    throw new TypeError(`${field}: must be a ${allowZero ? 'non-negative' : 'positive'} integer (got ${JSON.stringify(v)})`);
  }
}

export class BrambleClient {
  private readonly caller: Caller;
  private readonly pool: EndpointPool;
  private readonly dialTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly logger: ClientLogger;
  private readonly streams = new Set<{ cancel(): void }>();
  private memberRefreshAtMs = 0;
  /** Agent registration and heartbeats (proto/agent.proto Nodes). */
  readonly nodes: NodesClient;
  /** Join tokens (proto/agent.proto Tokens). */
  readonly tokens: TokensClient;
  /** Kubernetes-shaped objects (proto/api.proto Resources). */
  readonly resources: ResourcesClient;

  constructor(opts: ClientOptions) {
    this.dialTimeoutMs = opts.dialTimeoutMs ?? 2_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5_000;
    positiveInt(this.dialTimeoutMs, 'dialTimeoutMs');
    positiveInt(this.requestTimeoutMs, 'requestTimeoutMs');
    this.logger = opts.logger ?? silentLogger;
    this.pool = new EndpointPool({
      endpoints: opts.endpoints,
      callsToFollower: opts.spreadCalls ?? false,
      channelOptions: {
        'grpc.max_send_message_length': CLIENT_MAX_SEND_BYTES,
        'grpc.max_receive_message_length': opts.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_BYTES,
        // Notice a dead master under a long watch within seconds.
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        // grpc-js's reconnect back-off grows to 120 s by default; a restarted master must be usable again quickly.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1_000,
        // Retries are ours: grpc-js must not replay a write on its own.
        'grpc.enable_retries': 0,
        // One connection per endpoint per client, not shared with other clients in the process.
        'grpc.use_local_subchannel_pool': 1,
        ...opts.channelOptions,
      },
    });
    const token = opts.token;
    this.caller = new Caller({
      pool: this.pool,
      requestTimeoutMs: this.requestTimeoutMs,
      dialTimeoutMs: this.dialTimeoutMs,
      retry: { ...DEFAULT_RETRY_POLICY, ...opts.retries },
      logger: this.logger,
      metadata: () => {
        const md = new grpc.Metadata();
        if (token) md.set('authorization', `Bearer ${token}`);
        return md;
      },
    });
    this.nodes = new NodesClient(this.caller);
    this.tokens = new TokensClient(this.caller);
    this.resources = new ResourcesClient({
      caller: this.caller,
      dialTimeoutMs: this.dialTimeoutMs,
      streams: this.streams,
      spreadWatches: opts.spreadWatches ?? false,
      afterCall: () => this.maybeRefreshMembers(),
    });
  }

  /** The configured endpoints. */
  get endpoints(): readonly string[] {
    return this.pool.endpoints;
  }

  /** The endpoint the next call will try first (the leader's, when known). */
  get currentEndpoint(): string {
    return this.pool.preferred();
  }

  // ---------------------------------------------------------------- KV

  async get(key: Bytes, opts: GetOptions = {}): Promise<RangeResult> {
    if (opts.limit !== undefined) positiveInt(opts.limit, 'limit', true);
    if (opts.revision !== undefined) positiveInt(opts.revision, 'revision', true);
    const request = rangeRequest(key, opts);
    return this.kvCall(`get ${describeRange(key, opts)}`, true, 'Range', request, rangeFromWire);
  }

  async put(key: Bytes, value: Bytes, opts: PutOptions = {}): Promise<PutResult> {
    if (opts.lease !== undefined) positiveInt(opts.lease, 'lease', true);
    return this.kvCall(`put ${quote(key)}`, false, 'Put', putRequest(key, value, opts), putFromWire);
  }

  async delete(key: Bytes, opts: DeleteOptions = {}): Promise<DeleteResult> {
    return this.kvCall(`delete ${describeRange(key, opts)}`, false, 'DeleteRange', deleteRequest(key, opts), deleteFromWire);
  }

  async txn(t: TxnSpec): Promise<TxnResult> {
    const request = txnRequest(t);
    return this.kvCall('txn', false, 'Txn', request, txnFromWire);
  }

  /** Discard history before `revision`. Watches and reads at older revisions then fail as compacted. */
  async compact(revision: number): Promise<CompactResult> {
    positiveInt(revision, 'revision');
    return this.kvCall(`compact to revision ${revision}`, false, 'Compact', { revision }, (w) => ({ header: headerFromWire(w.header) }));
  }

  /**
   * Watch `key` (or a prefix/range) and call `onEvents` with each batch of changes, in
   * revision order. The watch moves to another master when its stream fails and resumes
   * from the last delivered revision + 1.
   */
  watch(key: Bytes, opts: WatchOptions, onEvents: WatchListener): WatchHandle {
    if (this.caller.isClosed) throw this.caller.closedError(`watch ${describeRange(key, opts)}`);
    if (opts.startRevision !== undefined) positiveInt(opts.startRevision, 'startRevision', true);
    const range = keyRange(key, opts);
    const watcher = new Watcher({
      caller: this.caller,
      operation: `watch ${describeRange(key, opts)}`,
      key: range.key,
      rangeEnd: range.range_end,
      opts,
      onEvents,
      dialTimeoutMs: this.dialTimeoutMs,
      onDone: (w) => this.streams.delete(w),
    });
    this.streams.add(watcher);
    return watcher;
  }

  // ---------------------------------------------------------------- leases

  /** Grant a lease of `ttlSeconds`; `id` 0 (default) lets the server choose. */
  async leaseGrant(ttlSeconds: number, id: LeaseId = 0): Promise<LeaseGrantResult> {
    positiveInt(ttlSeconds, 'ttlSeconds');
    positiveInt(id, 'id', true);
    return this.kvCall(`grant lease (TTL ${ttlSeconds}s)`, false, 'LeaseGrant', { ttl: ttlSeconds, id }, (w) => ({
      header: headerFromWire(w.header),
      id: Number(w.id),
      ttl: Number(w.ttl),
    }));
  }

  /** Revoke a lease; every key attached to it is deleted. */
  async leaseRevoke(id: LeaseId): Promise<LeaseRevokeResult> {
    positiveInt(id, 'id');
    return this.kvCall(`revoke lease ${id}`, false, 'LeaseRevoke', { id }, (w) => ({ header: headerFromWire(w.header) }));
  }

  /** Renew a lease once. Rejects with LEASE_EXPIRED when it no longer exists. */
  async leaseKeepAliveOnce(id: LeaseId): Promise<LeaseKeepAliveResult> {
    positiveInt(id, 'id');
    const operation = `keep lease ${id} alive`;
    return this.caller.call({
      operation,
      idempotent: true,
      run: (ctx) => keepAliveOnce(ctx, id, operation),
      learn: (r) => ({ member: r.header.member, leader: r.header.leader }),
    });
  }

  /** Keep a lease alive until `cancel()`, over a stream that follows the masters' failures. */
  leaseKeepAlive(id: LeaseId, opts: LeaseKeepAliveOptions = {}): LeaseKeepAliveHandle {
    positiveInt(id, 'id');
    if (this.caller.isClosed) throw this.caller.closedError(`keep lease ${id} alive`);
    const k = new KeepAlive({
      caller: this.caller,
      id,
      opts,
      dialTimeoutMs: this.dialTimeoutMs,
      responseTimeoutMs: this.requestTimeoutMs,
      onDone: (x) => this.streams.delete(x),
    });
    this.streams.add(k);
    return k;
  }

  /** Remaining TTL of a lease (-1 = expired or unknown) and, with `keys`, the keys attached to it. */
  async leaseTimeToLive(id: LeaseId, opts: { keys?: boolean } = {}): Promise<LeaseTimeToLiveResult> {
    positiveInt(id, 'id');
    return this.kvCall(`get TTL of lease ${id}`, true, 'LeaseTimeToLive', { id, keys: opts.keys ?? false }, (w) => ({
      header: headerFromWire(w.header),
      id: Number(w.id),
      ttl: Number(w.ttl),
      grantedTtl: Number(w.granted_ttl),
      keys: ((w.keys ?? []) as Buffer[]).map((k) => Buffer.from(k)),
    }));
  }

  // ---------------------------------------------------------------- cluster

  /** Status of one master: `endpoint` (asked once, no failover) or the current one. */
  async status(endpoint?: string): Promise<StatusResult> {
    if (endpoint !== undefined && !this.pool.endpoints.includes(endpoint)) {
      throw new TypeError(`status: ${JSON.stringify(endpoint)} is not one of the client's endpoints (${this.pool.endpoints.join(', ')})`);
    }
    return this.caller.call({
      operation: endpoint ? `status of ${endpoint}` : 'status',
      idempotent: true,
      ...(endpoint !== undefined ? { endpoint } : {}),
      run: async (ctx) => statusFromWire(await unary<Wire>(ctx.conn.cluster, 'Status', {}, ctx)),
      learn: (s) => ({ member: s.member, leader: s.leader }),
    });
  }

  /** Status of every endpoint, asked in parallel; an endpoint that failed has `error` instead of `status`. */
  async statusAll(): Promise<EndpointStatus[]> {
    return Promise.all(
      this.pool.endpoints.map(async (endpoint): Promise<EndpointStatus> => {
        try {
          return { endpoint, status: await this.status(endpoint) };
        } catch (err) {
          return { endpoint, error: err instanceof Error ? err : new Error(String(err)) };
        }
      }),
    );
  }

  async memberList(opts: { linearizable?: boolean } = {}): Promise<MemberListResult> {
    return this.caller.call({
      operation: 'list members',
      idempotent: true,
      run: async (ctx) => {
        const w = await unary<Wire>(ctx.conn.cluster, 'MemberList', { linearizable: opts.linearizable ?? false }, ctx);
        const result: MemberListResult = { clusterId: w.cluster_id ?? '', leader: w.leader ?? '', members: (w.members ?? []).map(memberFromWire) };
        this.pool.learnMembers(result.members, result.leader);
        return result;
      },
      learn: (r) => ({ leader: r.leader }),
    });
  }

  /**
   * Add a member. It joins as a learner; unless `stayLearner`, the leader promotes it to
   * voter once it has caught up.
   */
  async memberAdd(name: string, address: string, httpAddress = '', opts: { stayLearner?: boolean } = {}): Promise<MemberAddResult> {
    return this.clusterCall(`add member ${JSON.stringify(name)}`, 'MemberAdd', { name, address, http_address: httpAddress, stay_learner: opts.stayLearner ?? false }, (w) => ({
      member: memberFromWire(w.member ?? {}),
      members: (w.members ?? []).map(memberFromWire),
    }));
  }

  async memberRemove(name: string): Promise<MembersResult> {
    return this.clusterCall(`remove member ${JSON.stringify(name)}`, 'MemberRemove', { name }, (w) => ({ members: (w.members ?? []).map(memberFromWire) }));
  }

  async memberPromote(name: string): Promise<MembersResult> {
    return this.clusterCall(`promote member ${JSON.stringify(name)}`, 'MemberPromote', { name }, (w) => ({ members: (w.members ?? []).map(memberFromWire) }));
  }

  /** Hand leadership to `name` (default: the most up-to-date other voter). */
  async transferLeader(name = ''): Promise<TransferLeaderResult> {
    const what = name ? `transfer leadership to ${JSON.stringify(name)}` : 'transfer leadership';
    return this.clusterCall(what, 'TransferLeader', { name }, (w) => ({ leader: w.leader ?? '', term: Number(w.term ?? 0) }));
  }

  /** Cancel every call, watch and keep-alive, and close the connections. */
  close(): void {
    this.caller.close();
    for (const s of [...this.streams]) s.cancel();
    this.streams.clear();
    this.pool.close();
  }

  // ---------------------------------------------------------------- plumbing

  private kvCall<T extends { header: ResponseHeader }>(operation: string, idempotent: boolean, method: string, request: Wire, convert: (w: Wire) => T): Promise<T> {
    return this.caller
      .call({
        operation,
        idempotent,
        run: async (ctx) => convert(await unary<Wire>(ctx.conn.kv, method, request, ctx)),
        learn: (r) => ({ member: r.header.member, leader: r.header.leader }),
      })
      .then((r) => {
        this.maybeRefreshMembers();
        return r;
      });
  }

  private clusterCall<T>(operation: string, method: string, request: Wire, convert: (w: Wire) => T): Promise<T> {
    return this.caller.call({ operation, idempotent: false, run: async (ctx) => convert(await unary<Wire>(ctx.conn.cluster, method, request, ctx)) });
  }

  /** A master named the leader but we do not know its endpoint: ask for the member list, at most every 5 s, in the background. */
  private maybeRefreshMembers(): void {
    if (!this.pool.leaderUnmapped() || this.pool.endpoints.length === 1 || this.caller.isClosed) return;
    const now = Date.now();
    if (now - this.memberRefreshAtMs < 5_000) return;
    this.memberRefreshAtMs = now;
    this.memberList().catch((err: unknown) => {
      this.logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'member list refresh failed; leader endpoint stays unknown');
    });
  }
}

/** One LeaseKeepAlive round trip on a fresh stream. */
function keepAliveOnce(ctx: CallContext, id: LeaseId, operation: string): Promise<LeaseKeepAliveResult> {
  return new Promise((resolve, reject) => {
    const stream = (ctx.conn.kv as unknown as {
      LeaseKeepAlive(md: grpc.Metadata, opts: grpc.CallOptions): grpc.ClientDuplexStream<Wire, Wire>;
    }).LeaseKeepAlive(ctx.metadata, { deadline: ctx.deadline });
    const untrack = ctx.track(stream);
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      untrack();
      fn();
    };
    stream.on('data', (w: Wire) => {
      const ttl = Number(w.ttl ?? 0);
      settle(() =>
        ttl > 0
          ? resolve({ header: headerFromWire(w.header), id: Number(w.id ?? id), ttl })
          : reject(new BrambleError({ operation, code: 'LEASE_EXPIRED', details: `lease ${id} has expired or does not exist`, endpoint: ctx.endpoint })),
      );
      stream.cancel();
    });
    stream.on('error', (err: grpc.ServiceError) => settle(() => reject(err)));
    stream.on('status', (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK) {
        settle(() => reject(Object.assign(new Error('stream ended without an answer'), { code: grpc.status.UNAVAILABLE, details: 'the master ended the keep-alive stream without an answer', metadata: s.metadata })));
      }
    });
    // No end(): a master may close the stream on half-close before its answer is ready.
    stream.write({ id });
  });
}
