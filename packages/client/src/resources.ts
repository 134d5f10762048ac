// ResourcesClient: the Resources service (proto/api.proto) with the client's failover
// and retry rules, ApiErrors rebuilt from the masters' trailer, and watches that
// resume on another master from the last resourceVersion seen.
import * as grpc from '@grpc/grpc-js';
import { ApiError, type KindName, type Pod, type Resource, type ResourceKinds } from '@bramble/api';
import { Backoff, LEADER_HEADER, MEMBER_HEADER, serviceClient } from '@bramble/transport';
import { unary, type CallContext, type Caller } from './call.js';
import { awaitConnected, DialTimeoutError, type Connection } from './endpoints.js';
import { BrambleError, cleanDetails, grpcCodeName, isServiceError } from './errors.js';
import { worthReconnecting } from './stream.js';
import { DEFAULT_WATCH_RECONNECT_TIMEOUT_MS } from './watch.js';
import type {
  ApplyAction,
  ResourceDeleteOptions,
  ResourceDeleteResult,
  ResourceEventRecord,
  ResourceList,
  ResourceListOptions,
  ResourcesApi,
  ResourceWatchEvent,
  ResourceWatchEventType,
  ResourceWatchHandle,
  ResourceWatchOptions,
} from './resources-types.js';
import type { Wire } from './wire.js';

export const API_ERROR_TRAILER = 'bramble-api-error-bin';

let resourcesCtor: grpc.ServiceClientConstructor | undefined;
const resourcesClients = new WeakMap<Connection, grpc.Client>();

/** The Resources service client on a connection's channel, made once per connection. */
function resourcesOn(conn: Connection): grpc.Client {
  let client = resourcesClients.get(conn);
  if (!client) {
    resourcesCtor ??= serviceClient('api.proto', 'bramble.api.Resources');
    client = new resourcesCtor(conn.endpoint, grpc.credentials.createInsecure(), { channelOverride: conn.channel });
    resourcesClients.set(conn, client);
  }
  return client;
}

/** Failures the caller's failover handles (another master, or an unknown outcome): they stay gRPC errors. */
const TRANSPORT_CODES = new Set<number>([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED]);

/** The ApiError a master put in the `bramble-api-error-bin` trailer, if any. */
export function apiErrorFromStatus(err: { metadata?: grpc.Metadata }): ApiError | undefined {
  const raw = err.metadata?.get(API_ERROR_TRAILER)?.[0];
  if (raw === undefined) return undefined;
  try {
    const e = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw)) as {
      code: ApiError['code'];
      message: string;
      kind?: string;
      name?: string;
      fieldErrors?: ApiError['fieldErrors'];
    };
    if (typeof e?.code !== 'string' || typeof e.message !== 'string') return undefined;
    return new ApiError(e.code, e.message, { fieldErrors: e.fieldErrors ?? [], kind: e.kind, name: e.name });
  } catch {
    return undefined;
  }
}

/** Who answered and whom it follows, from a master's response metadata (absent from older masters). */
export type Learned = { member?: string; leader?: string };

function learnedFrom(md: grpc.Metadata): Learned {
  const text = (key: string): string | undefined => {
    const v = md.get(key)[0];
    return v === undefined || v === '' ? undefined : String(v);
  };
  return { member: text(MEMBER_HEADER), leader: text(LEADER_HEADER) };
}

async function resourcesCall(ctx: CallContext, method: string, request: object, learned?: Learned): Promise<Wire> {
  try {
    return await unary<Wire>(resourcesOn(ctx.conn), method, request, ctx, learned && ((md) => Object.assign(learned, learnedFrom(md))));
  } catch (err) {
    if (isServiceError(err) && !TRANSPORT_CODES.has(err.code)) {
      const api = apiErrorFromStatus(err);
      if (api) throw api;
    }
    throw err;
  }
}

function parseObject<T>(text: unknown, what: string): T {
  try {
    return JSON.parse(String(text ?? '')) as T;
  } catch (err) {
    throw new BrambleError({ operation: what, code: 'INTERNAL', details: `the master answered with malformed JSON: ${(err as Error).message}` });
  }
}

function describeObject(obj: Resource): string {
  const name = obj?.metadata?.name ?? obj?.metadata?.generateName ?? '';
  return `${obj?.kind ?? 'object'} ${JSON.stringify(name)}`;
}

function describeTarget(kind: string, namespace: string | undefined, name: string): string {
  return `${kind} ${JSON.stringify(namespace ? `${namespace}/${name}` : name)}`;
}

export interface ResourcesClientInit {
  caller: Caller;
  dialTimeoutMs: number;
  /** Long-lived streams the owning client cancels on close(). */
  streams: Set<{ cancel(): void }>;
  /** Watches start at a follower (EndpointPool.watchEndpoint) instead of the leader. */
  spreadWatches?: boolean;
  /** After each successful call (the owning client looks up the leader's endpoint when it is named but unknown). */
  afterCall?: () => void;
}

export class ResourcesClient implements ResourcesApi {
  constructor(private readonly init: ResourcesClientInit) {}

  private call<T>(operation: string, idempotent: boolean, method: string, request: object, convert: (w: Wire) => T): Promise<T> {
    // Filled from the answering master's metadata: the pool learns the leader and sends later calls there.
    const learned: Learned = {};
    return this.init.caller
      .call({ operation, idempotent, run: async (ctx) => convert(await resourcesCall(ctx, method, request, learned)), learn: () => learned })
      .then((result) => {
        this.init.afterCall?.();
        return result;
      });
  }

  async create<T extends Resource>(obj: T, options: { dryRun?: boolean } = {}): Promise<T> {
    const op = `create ${describeObject(obj)}`;
    return this.call(op, Boolean(options.dryRun), 'Create', { object_json: JSON.stringify(obj), dry_run: Boolean(options.dryRun) }, (w) => parseObject<T>(w.object_json, op));
  }

  async get<K extends KindName>(kind: K, namespace: string | undefined, name: string): Promise<ResourceKinds[K]> {
    const op = `get ${describeTarget(kind, namespace, name)}`;
    return this.call(op, true, 'Get', { kind, namespace: namespace ?? '', name }, (w) => parseObject<ResourceKinds[K]>(w.object_json, op));
  }

  async list<K extends KindName>(kind: K, options: ResourceListOptions = {}): Promise<ResourceList<ResourceKinds[K]>> {
    const op = `list ${kind}`;
    const request = { kind, namespace: options.namespace ?? '', label_selector: options.labelSelector ?? '', field_selector: options.fieldSelector ?? '' };
    return this.call(op, true, 'List', request, (w) => ({
      items: ((w.items_json ?? []) as string[]).map((j) => parseObject<ResourceKinds[K]>(j, op)),
      resourceVersion: String(w.resource_version ?? ''),
    }));
  }

  async update<T extends Resource>(obj: T): Promise<T> {
    const op = `update ${describeObject(obj)}`;
    return this.call(op, false, 'Update', { object_json: JSON.stringify(obj), status: false }, (w) => parseObject<T>(w.object_json, op));
  }

  async updateStatus<T extends Resource>(obj: T): Promise<T> {
    const op = `update status of ${describeObject(obj)}`;
    return this.call(op, false, 'Update', { object_json: JSON.stringify(obj), status: true }, (w) => parseObject<T>(w.object_json, op));
  }

  async patch<K extends KindName>(kind: K, namespace: string | undefined, name: string, patch: unknown, options: { status?: boolean } = {}): Promise<ResourceKinds[K]> {
    const op = `patch ${describeTarget(kind, namespace, name)}`;
    const request = { kind, namespace: namespace ?? '', name, patch_json: JSON.stringify(patch ?? null), status: Boolean(options.status) };
    return this.call(op, false, 'Patch', request, (w) => parseObject<ResourceKinds[K]>(w.object_json, op));
  }

  async apply<T extends Resource>(obj: T, options: { dryRun?: boolean } = {}): Promise<{ object: T; action: ApplyAction }> {
    const op = `apply ${describeObject(obj)}`;
    return this.call(op, Boolean(options.dryRun), 'Apply', { object_json: JSON.stringify(obj), dry_run: Boolean(options.dryRun) }, (w) => ({
      object: parseObject<T>(w.object_json, op),
      action: String(w.action) as ApplyAction,
    }));
  }

  async delete(kind: KindName, namespace: string | undefined, name: string, options: ResourceDeleteOptions = {}): Promise<ResourceDeleteResult> {
    const op = `delete ${describeTarget(kind, namespace, name)}`;
    const grace = options.gracePeriodSeconds;
    if (grace !== undefined && (!Number.isSafeInteger(grace) || grace < 0)) {
      throw new TypeError(`gracePeriodSeconds: must be a non-negative integer (got ${JSON.stringify(grace)})`);
    }
    const request = {
      kind,
      namespace: namespace ?? '',
      name,
      propagation: options.propagation ?? '',
      grace_period_seconds: grace ?? 0,
      has_grace_period: grace !== undefined,
      precondition_uid: options.preconditions?.uid ?? '',
      precondition_resource_version: options.preconditions?.resourceVersion ?? '',
    };
    return this.call(op, false, 'Delete', request, (w) => ({ object: parseObject<Resource>(w.object_json, op), finished: w.finished === true }));
  }

  async bind(namespace: string, name: string, nodeName: string, resourceVersion: string): Promise<Pod> {
    const op = `bind pod ${JSON.stringify(`${namespace}/${name}`)} to node ${JSON.stringify(nodeName)}`;
    const request = { namespace, name, node_name: nodeName, resource_version: resourceVersion };
    return this.call(op, false, 'Bind', request, (w) => parseObject<Pod>(w.object_json, op));
  }

  async recordEvent(record: ResourceEventRecord): Promise<void> {
    await this.call(`record event ${record.reason}`, false, 'RecordEvent', { record_json: JSON.stringify(record) }, () => undefined);
  }

  async recordEvents(records: ResourceEventRecord[]): Promise<void> {
    if (!Array.isArray(records)) throw new TypeError(`recordEvents: records must be an array (got ${typeof records})`);
    if (records.length === 0) return;
    const request = { records_json: records.map((r) => JSON.stringify(r)) };
    await this.call(`record ${records.length} events`, false, 'RecordEvents', request, () => undefined);
  }

  watch<K extends KindName>(kind: K, options: ResourceWatchOptions, onEvent: (event: ResourceWatchEvent<ResourceKinds[K]>) => void): ResourceWatchHandle {
    const { caller } = this.init;
    const operation = `watch ${kind}`;
    if (caller.isClosed) throw caller.closedError(operation);
    const watcher = new ResourceWatcher({
      caller,
      dialTimeoutMs: this.init.dialTimeoutMs,
      spreadWatches: this.init.spreadWatches === true,
      operation,
      kind,
      options,
      onEvent: onEvent as (event: ResourceWatchEvent) => void,
      onDone: (w) => this.init.streams.delete(w),
    });
    this.init.streams.add(watcher);
    return watcher;
  }
}

interface ResourceWatcherInit {
  caller: Caller;
  dialTimeoutMs: number;
  spreadWatches: boolean;
  operation: string;
  kind: string;
  options: ResourceWatchOptions;
  onEvent(event: ResourceWatchEvent): void;
  onDone(w: ResourceWatcher): void;
}

/**
 * One logical watch over as many streams as it takes. It remembers the last
 * resourceVersion seen (an event's, or a BOOKMARK's) and, when a stream breaks, opens
 * another one on the next master from there. If a stream breaks during the initial
 * events, they are sent again from the start (ADDED events may repeat).
 */
class ResourceWatcher implements ResourceWatchHandle {
  readonly done: Promise<Error | undefined>;
  private resolveDone!: (value: Error | undefined) => void;
  private readonly backoff: Backoff;
  private stream: grpc.ClientReadableStream<Wire> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Resume point; undefined until known (a watch "from now" learns it from the server's first BOOKMARK). */
  private lastRv: string | undefined;
  private initialPending: boolean;
  /** A stream of this watch delivered something at least once: failures then get the long reconnect budget. */
  private everEstablished = false;
  /** The current stream delivered something. */
  private streamUp = false;
  private failingSinceMs: number | undefined;
  private readonly startedMs = Date.now();
  private lastFailure = '';
  private finished = false;

  constructor(private readonly init: ResourceWatcherInit) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const rv = init.options.resourceVersion;
    this.lastRv = rv === undefined || rv === '' || rv === '0' ? undefined : rv;
    this.initialPending = Boolean(init.options.sendInitialEvents);
    const retry = init.caller.opts.retry;
    this.backoff = new Backoff({ initialMs: retry.initialBackoffMs, maxMs: Math.max(retry.initialBackoffMs, retry.maxBackoffMs), random: Math.random });
    void this.connect();
  }

  close(): void {
    this.finish(undefined);
  }

  /** BrambleClient.close() cancels its streams. */
  cancel(): void {
    this.finish(undefined);
  }

  private async connect(): Promise<void> {
    this.timer = undefined;
    if (this.finished) return;
    const { caller } = this.init;
    if (caller.isClosed) {
      this.finish(caller.closedError(this.init.operation));
      return;
    }
    const endpoint = this.init.spreadWatches ? caller.pool.watchEndpoint() : caller.pool.preferred();
    let conn: Connection;
    try {
      conn = caller.pool.connection(endpoint);
      await awaitConnected(conn.channel, Date.now() + this.init.dialTimeoutMs);
    } catch (err) {
      if (this.finished) return;
      this.retryLater(endpoint, 'UNAVAILABLE', err instanceof DialTimeoutError ? `could not connect within ${this.init.dialTimeoutMs} ms` : String(err));
      return;
    }
    if (this.finished) return;
    const o = this.init.options;
    const request = {
      kind: this.init.kind,
      namespace: o.namespace ?? '',
      label_selector: o.labelSelector ?? '',
      field_selector: o.fieldSelector ?? '',
      resource_version: this.initialPending ? '' : (this.lastRv ?? ''),
      send_initial_events: this.initialPending,
    };
    const client = resourcesOn(conn) as unknown as { Watch(req: object, md: grpc.Metadata): grpc.ClientReadableStream<Wire> };
    const stream = client.Watch(request, caller.opts.metadata());
    this.stream = stream;
    this.streamUp = false;
    stream.on('data', (w: Wire) => {
      if (stream === this.stream) this.onMessage(endpoint, w);
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (stream === this.stream) this.onStreamError(endpoint, err);
    });
    stream.on('status', (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK && stream === this.stream) this.onStreamEnded(endpoint, 'OK', 'the master ended the watch stream');
    });
  }

  private onMessage(endpoint: string, w: Wire): void {
    if (this.finished) return;
    if (!this.streamUp) {
      this.streamUp = true;
      this.everEstablished = true;
      this.failingSinceMs = undefined;
      this.backoff.reset();
      this.init.caller.pool.reportSuccess(endpoint);
    }
    let object: Resource;
    try {
      object = JSON.parse(String(w.object_json)) as Resource;
    } catch (err) {
      this.finish(new BrambleError({ operation: this.init.operation, code: 'INTERNAL', details: `${endpoint} sent malformed JSON: ${(err as Error).message}`, endpoint }));
      return;
    }
    const type = String(w.type) as ResourceWatchEventType;
    const rv = object?.metadata?.resourceVersion;
    if (type === 'BOOKMARK') {
      if (rv) this.lastRv = rv;
      // Only the BOOKMARK that ends the initial events is the user's; the others mark where a stream starts.
      if (!this.initialPending) return;
      this.initialPending = false;
    } else if (!this.initialPending && rv) {
      this.lastRv = rv;
    }
    try {
      this.init.onEvent({ type, object });
    } catch (err) {
      this.finish(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private onStreamError(endpoint: string, err: grpc.ServiceError): void {
    if (this.finished) return;
    this.stream = undefined;
    const api = TRANSPORT_CODES.has(err.code) ? undefined : apiErrorFromStatus(err);
    if (api && api.code !== 'TooManyRequests' && api.code !== 'InternalError') {
      this.finish(api); // Gone, BadRequest, NotFound kind ...: a new stream would fail the same way
      return;
    }
    if (!worthReconnecting(err.code)) {
      this.finish(new BrambleError({ operation: this.init.operation, code: grpcCodeName(err.code), details: cleanDetails(err.details ?? err.message), endpoint, grpcCode: err.code }));
      return;
    }
    this.onStreamEnded(endpoint, grpcCodeName(err.code), cleanDetails(err.details ?? err.message));
  }

  private onStreamEnded(endpoint: string, code: string, details: string): void {
    if (this.finished) return;
    this.stream = undefined;
    this.retryLater(endpoint, code, details);
  }

  private retryLater(endpoint: string, code: string, details: string): void {
    const { caller } = this.init;
    caller.pool.reportFailure(endpoint);
    this.lastFailure = `${endpoint}: ${code}: ${details}`;
    const now = Date.now();
    // Until the watch was first established, give up as fast as a unary call would.
    const sinceMs = now - (this.failingSinceMs ??= this.everEstablished ? now : this.startedMs);
    const budgetMs = this.everEstablished ? DEFAULT_WATCH_RECONNECT_TIMEOUT_MS : Math.min(DEFAULT_WATCH_RECONNECT_TIMEOUT_MS, caller.opts.requestTimeoutMs);
    if (sinceMs >= budgetMs) {
      const resume = this.lastRv ? `; resume from resourceVersion ${this.lastRv}` : '';
      this.finish(
        new BrambleError({
          operation: this.init.operation,
          code: 'UNAVAILABLE',
          details: `no master accepted the watch for ${sinceMs} ms (last error ${this.lastFailure})${resume}`,
          endpoint,
        }),
      );
      return;
    }
    const delayMs = Math.min(this.backoff.next(), budgetMs - sinceMs);
    caller.opts.logger.debug({ op: this.init.operation, endpoint, code, details, delayMs, resourceVersion: this.lastRv ?? null }, 'watch stream failed; resuming on another master');
    this.timer = setTimeout(() => void this.connect(), delayMs);
  }

  private finish(error: Error | undefined): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
    this.init.onDone(this);
    this.resolveDone(error);
  }
}
