/**
 * The Resources gRPC service (proto/api.proto) over a ResourceStore. Objects travel
 * as JSON strings; errors as gRPC statuses with the ApiError in a trailer (errors.ts).
 *
 * Watch: a watch "from now" without initial events first sends a BOOKMARK with the
 * revision it starts after, so a client whose stream breaks before any event can
 * resume without a gap (BOOKMARKs may always be ignored).
 */
import * as grpc from '@grpc/grpc-js';
import { ApiError, type Resource } from '@bramble/api';
import type { DeleteOptions, DeletionPropagation, EventRecord } from '@bramble/controllers';
import { LEADER_HEADER, MEMBER_HEADER } from '@bramble/transport';
import { toGrpcStatus } from './errors.js';
import type { ResourceStore, StoreWatch } from './store.js';

type Wire = Record<string, any>;

export interface ResourcesServiceOptions {
  /** Largest request accepted (--max-request-bytes). */
  maxRequestBytes: number;
  /** A watch with more events than this not yet sent is cut off (the client resumes elsewhere). */
  maxWatchPendingEvents?: number;
  /** Who this master is and whom it follows, sent as response metadata (MEMBER_HEADER, LEADER_HEADER). */
  identity?: () => { member: string; leader: string };
  /** Why no watch can be served here now (e.g. no leader: LeaderlessWatchGuard); new watches are refused with it. */
  watchRefusal?: () => string | undefined;
}

function parseJson(text: unknown, field: string): unknown {
  if (typeof text !== 'string' || text.trim() === '') throw new ApiError('BadRequest', `${field}: Required value: a JSON document`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ApiError('BadRequest', `${field}: invalid JSON: ${(err as Error).message}`);
  }
}

/** Records accepted in one RecordEvents request. */
export const MAX_EVENTS_PER_REQUEST = 1000;

function requestBytes(req: Wire): number {
  let n = 0;
  for (const v of Object.values(req)) {
    if (typeof v === 'string') n += Buffer.byteLength(v, 'utf8');
    else if (Array.isArray(v)) for (const item of v) if (typeof item === 'string') n += Buffer.byteLength(item, 'utf8');
  }
  return n;
}

function parseEventRecords(list: unknown): EventRecord[] {
  if (!Array.isArray(list)) throw new ApiError('BadRequest', 'records_json: must be a list of JSON documents');
  if (list.length > MAX_EVENTS_PER_REQUEST) {
    throw new ApiError('BadRequest', `records_json: too many events in one request: ${list.length}, the limit is ${MAX_EVENTS_PER_REQUEST}; send them in several requests`);
  }
  return list.map((text, i) => parseJson(text, `records_json[${i}]`) as EventRecord);
}

/**
 * Watch events' JSON, once per object: the shared, frozen objects of a revision
 * (watch.ts) go to every watch stream, so each is stringified once. Objects that
 * are not frozen belong to one stream and are not cached.
 */
const eventJson = new WeakMap<Resource, string>();

export function watchObjectJson(obj: Resource): string {
  if (!Object.isFrozen(obj)) return JSON.stringify(obj);
  let text = eventJson.get(obj);
  if (text === undefined) {
    text = JSON.stringify(obj);
    eventJson.set(obj, text);
  }
  return text;
}

function optional(text: unknown): string | undefined {
  return typeof text === 'string' && text !== '' ? text : undefined;
}

export class ResourcesService {
  private readonly watches = new Set<(status?: ApiError) => void>();
  private readonly maxWatchPendingEvents: number;

  constructor(
    private readonly store: ResourceStore,
    private readonly opts: ResourcesServiceOptions,
  ) {
    this.maxWatchPendingEvents = opts.maxWatchPendingEvents ?? 10_000;
  }

  /** Ends every watch stream (UNAVAILABLE: clients resume on another master). */
  close(): void {
    this.endWatches('the master is shutting down; resume the watch on another master');
  }

  /** Ends every watch stream with UNAVAILABLE and `reason`: clients resume on another master. */
  endWatches(reason: string): void {
    for (const end of [...this.watches]) end(new ApiError('ServiceUnavailable', reason));
  }

  get activeWatches(): number {
    return this.watches.size;
  }

  private unary(handler: (req: Wire) => Promise<Wire>) {
    return (call: grpc.ServerUnaryCall<Wire, Wire>, callback: grpc.sendUnaryData<Wire>): void => {
      const run = async (): Promise<Wire> => {
        const size = requestBytes(call.request);
        if (size > this.opts.maxRequestBytes) {
          throw new ApiError('BadRequest', `request too large: ${size} bytes, the limit is ${this.opts.maxRequestBytes} (--max-request-bytes)`);
        }
        return handler(call.request);
      };
      run().then(
        (res) => {
          const id = this.opts.identity?.();
          if (id) {
            const md = new grpc.Metadata();
            md.set(MEMBER_HEADER, id.member);
            if (id.leader) md.set(LEADER_HEADER, id.leader);
            call.sendMetadata(md);
          }
          callback(null, res);
        },
        (err) => callback(toGrpcStatus(err)),
      );
    };
  }

  handlers(): grpc.UntypedServiceImplementation {
    const store = this.store;
    const json = (obj: unknown): string => JSON.stringify(obj);
    return {
      Create: this.unary(async (req) => ({ object_json: json(await store.create(parseJson(req.object_json, 'object_json') as Resource, { dryRun: Boolean(req.dry_run) })) })),
      Get: this.unary(async (req) => ({ object_json: json(await store.mustGet(req.kind, optional(req.namespace), req.name)) })),
      List: this.unary(async (req) => {
        const list = await store.listWithRevision(req.kind, {
          namespace: optional(req.namespace),
          labelSelector: optional(req.label_selector),
          fieldSelector: optional(req.field_selector),
        });
        return { items_json: list.items.map(json), resource_version: list.resourceVersion };
      }),
      Update: this.unary(async (req) => {
        const obj = parseJson(req.object_json, 'object_json') as Resource;
        return { object_json: json(req.status ? await store.updateStatus(obj) : await store.update(obj)) };
      }),
      Patch: this.unary(async (req) => {
        const patch = parseJson(req.patch_json, 'patch_json');
        return { object_json: json(await store.patch(req.kind, optional(req.namespace), req.name, patch, { status: Boolean(req.status) })) };
      }),
      Apply: this.unary(async (req) => {
        const r = await store.apply(parseJson(req.object_json, 'object_json') as Resource, { dryRun: Boolean(req.dry_run) });
        return { object_json: json(r.object), action: r.action };
      }),
      Delete: this.unary(async (req) => {
        const options: DeleteOptions = {};
        if (optional(req.propagation)) options.propagation = req.propagation as DeletionPropagation;
        if (req.has_grace_period) options.gracePeriodSeconds = Number(req.grace_period_seconds);
        const uid = optional(req.precondition_uid);
        const resourceVersion = optional(req.precondition_resource_version);
        if (uid !== undefined || resourceVersion !== undefined) options.preconditions = { uid, resourceVersion };
        const r = await store.deleteObject(req.kind, optional(req.namespace), req.name, options);
        return { object_json: json(r.object), finished: r.finished };
      }),
      Bind: this.unary(async (req) => ({
        object_json: json(await store.bindPod(optional(req.namespace) ?? 'default', req.name, req.node_name, req.resource_version)),
      })),
      RecordEvent: this.unary(async (req) => {
        await store.recordEvent(parseJson(req.record_json, 'record_json') as EventRecord);
        return {};
      }),
      RecordEvents: this.unary(async (req) => {
        await store.recordEvents(parseEventRecords(req.records_json ?? []));
        return {};
      }),
      Watch: (call: grpc.ServerWritableStream<Wire, Wire>) => this.serveWatch(call),
    };
  }

  private serveWatch(call: grpc.ServerWritableStream<Wire, Wire>): void {
    const refusal = this.opts.watchRefusal?.();
    if (refusal !== undefined) {
      call.emit('error', toGrpcStatus(new ApiError('ServiceUnavailable', refusal)));
      return;
    }
    const req = call.request;
    let watch: StoreWatch | undefined;
    let ended = false;
    /** Stop the store watch; with an error, end the stream with it. */
    const end = (error?: unknown): void => {
      if (ended) return;
      ended = true;
      this.watches.delete(end);
      watch?.cancel();
      if (error !== undefined) {
        const status = toGrpcStatus(error);
        call.emit('error', status);
      }
    };
    this.watches.add(end);
    call.on('cancelled', () => end());
    call.on('close', () => end());
    const fromNow = !optional(req.resource_version) || req.resource_version === '0';
    this.store
      .watch(
        req.kind,
        {
          namespace: optional(req.namespace),
          labelSelector: optional(req.label_selector),
          fieldSelector: optional(req.field_selector),
          resourceVersion: optional(req.resource_version),
          sendInitialEvents: Boolean(req.send_initial_events),
          announceStart: fromNow && !req.send_initial_events,
        },
        (event) => {
          if (ended) return;
          call.write({ type: event.type, object_json: watchObjectJson(event.object) });
          if (call.writableLength > this.maxWatchPendingEvents) {
            const last = event.object.metadata.resourceVersion ?? '';
            end(new ApiError('TooManyRequests', `slow watcher: more than ${this.maxWatchPendingEvents} events not yet sent; cut off, re-watch from resourceVersion ${last}`));
          }
        },
        (err) => end(err),
      )
      .then(
        (w) => {
          if (ended) w.cancel();
          else watch = w;
        },
        (err) => end(err),
      );
  }
}
