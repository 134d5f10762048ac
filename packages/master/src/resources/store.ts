/**
 * ResourceStore: the Resources API over the replicated key-value store. Objects live
 * under `registryKey` as JSON; their resourceVersion is the key's mod revision, and
 * every write is a compare-and-set txn on it, so concurrent writers on any master
 * never lose an update. It implements ControllerClient, so the controllers run on it
 * unchanged, with the same rules as MemoryClient (packages/controllers/src/resource-rules.ts).
 *
 * Reads that a client sees (get, list, the start of a watch) wait for a
 * linearizable-read barrier first; writes re-read the local state after their
 * barrier, and a failed compare re-reads what made it fail (a txn resolves only
 * once applied locally).
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  ApiError,
  applyDefaults,
  applyManifest,
  deepClone,
  isObject,
  KINDS,
  kindInfo,
  mergePatch,
  mustResolveKind,
  nameFromGenerateName,
  parseFieldSelector,
  parseLabelSelector,
  randomSuffix,
  registryKey,
  registryPrefix,
  resolveKind,
  validateOrThrow,
  type Event,
  type KindInfo,
  type KindName,
  type Namespace,
  type Pod,
  type Resource,
  type ResourceKinds,
  type Service,
} from '@bramble/api';
import {
  alreadyExists,
  boundPod,
  checkPreconditions,
  deletionStep,
  eventIdentity,
  isoTime,
  newEvent,
  notFound,
  parseTime,
  readyToRemove,
  resourceName,
  staleConflict,
  statusUpdatedObject,
  updatedObject,
  withOverrides,
  type ControllerClient,
  type DeleteOptions,
  type EventRecord,
  type ListOptions,
  type ResourceServerOptions,
} from '@bramble/controllers';
import type { Compare, RequestOp } from '@bramble/kv';
import type { ResourceBackend } from './backend.js';
import { ServicePortReservations, type TxnExtra } from './service-ports.js';
import { decodeObject, decodeShared, encodeObject, equalButResourceVersion, withoutResourceVersion } from './codec.js';
import { bookmark, matchesFilter, translateEvents, type ObjectFilter, type ResourceEvent } from './watch.js';

export const DEFAULT_NAMESPACE_NAME = 'default';
/** An identical event within this window bumps the count of the stored one. */
export const EVENT_AGGREGATION_WINDOW_MS = 10 * 60 * 1000;
/** Events not seen again for this long are swept. */
export const EVENT_TTL_MS = 60 * 60 * 1000;

/** Defaults: `now` Date.now, `uid` randomUUID, `random` Math.random. */
export interface ResourceStoreOptions extends ResourceServerOptions {
  /** Largest stored object (the master's --max-request-bytes). Default 1.5 MiB. */
  maxObjectBytes?: number;
  /** Attempts of a read-modify-write without an explicit resourceVersion. Default 5. */
  maxAttempts?: number;
  /** Writes in flight at once when deleting many objects (a namespace's content, old events). Default 64. */
  maxConcurrentWrites?: number;
}

export interface DeleteOutcome {
  /** The object as deleted, or as it now stands while being deleted. */
  object: Resource;
  /** False while it is still there with a deletionTimestamp (finalizers, a pod's grace period). */
  finished: boolean;
}

export interface StoreWatchOptions extends ListOptions {
  /** Events after this revision; '' or '0' = from now. */
  resourceVersion?: string;
  sendInitialEvents?: boolean;
  /**
   * Without initial events and from now: send a BOOKMARK with the starting revision
   * first, so a client can resume without a gap if the stream breaks before any event.
   */
  announceStart?: boolean;
}

export interface StoreWatch {
  cancel(): void;
}

/** `extra`: more compares and ops for the same txn (a Service's port reservations). */
type Mutation = { put: Resource; extra?: TxnExtra } | { remove: true; extra?: TxnExtra } | { keep: true };

interface NamespaceState {
  modRevision: number;
  terminating: boolean;
}

/** Bound on ResourceStore.namespaces (cleared when reached). */
const MAX_REMEMBERED_NAMESPACES = 1024;

/** A read barrier waited for at most once per request (see writeBarrier). */
interface WriteBarrier {
  done: boolean;
  run(): Promise<void>;
}

interface Current {
  obj: Resource;
  modRevision: number;
}

interface MutationResult {
  obj: Resource;
  removed: boolean;
}

const PROPAGATIONS = new Set(['Background', 'Foreground', 'Orphan']);

export class ResourceStore implements ControllerClient {
  private readonly now: () => number;
  private readonly newUid: () => string;
  private readonly random: () => number;
  readonly maxObjectBytes: number;
  private readonly maxAttempts: number;
  private readonly maxEvents: number;
  private readonly maxConcurrentWrites: number;
  /** namespaceState's answers, by namespace key. */
  private readonly namespaces = new Map<string, NamespaceState>();
  private readonly servicePorts: ServicePortReservations;

  constructor(
    private readonly backend: ResourceBackend,
    options: ResourceStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.newUid = options.uid ?? randomUUID;
    this.random = options.random ?? Math.random;
    this.maxObjectBytes = options.maxObjectBytes ?? 1.5 * 1024 * 1024;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.maxEvents = options.maxEvents ?? 10_000;
    this.maxConcurrentWrites = options.maxConcurrentWrites ?? 64;
    this.servicePorts = new ServicePortReservations(backend, this.random);
  }

  // ---------------------------------------------------------------- reads

  async get<K extends KindName>(kind: K, namespace: string | undefined, name: string): Promise<ResourceKinds[K] | undefined> {
    const info = mustResolveKind(kind);
    const key = this.key(info, namespace, name);
    await this.backend.linearizableRead();
    return this.read(key)?.obj as ResourceKinds[K] | undefined;
  }

  /** Like `get`, but NotFound when absent. */
  async mustGet<K extends KindName>(kind: K, namespace: string | undefined, name: string): Promise<ResourceKinds[K]> {
    const obj = await this.get(kind, namespace, name);
    if (obj === undefined) throw notFound(mustResolveKind(kind).kind, name);
    return obj;
  }

  async list<K extends KindName>(kind: K, options: ListOptions = {}): Promise<Array<ResourceKinds[K]>> {
    return (await this.listWithRevision(kind, options)).items;
  }

  /** Objects sorted by namespace and name (read-only: shared and frozen), with the revision they were read at. */
  async listWithRevision<K extends KindName>(kind: K, options: ListOptions = {}): Promise<{ items: Array<ResourceKinds[K]>; resourceVersion: string }> {
    const info = mustResolveKind(kind);
    const filter = this.filter(info, options);
    await this.backend.linearizableRead();
    return this.listApplied(info, options.namespace, filter) as { items: Array<ResourceKinds[K]>; resourceVersion: string };
  }

  /**
   * The leader's controllers read this master's applied state without a read barrier, as
   * Kubernetes controllers read their informer caches: every write they make is a
   * compare-and-set (or carries preconditions), so a read that is a moment old costs a
   * Conflict and another pass, never a wrong write. It cannot go back in time: the
   * controllers start only once this leader's no-op is applied, and their own writes
   * resolve only once applied here. Saves a quorum round per list, which under load
   * made each controller's pass wait on every other master.
   */
  controllerView(): ControllerClient {
    return withOverrides(this, {
      list: async (kind, options = {}) => {
        const info = mustResolveKind(kind);
        return this.listApplied(info, options.namespace, this.filter(info, options)).items as Array<ResourceKinds[typeof kind]>;
      },
    });
  }

  private listApplied(info: KindInfo, namespace: string | undefined, filter: ObjectFilter): { items: Resource[]; resourceVersion: string } {
    const prefix = this.prefix(info, namespace);
    const { kvs, revision } = this.backend.range(prefix, { prefix: true });
    // Shared, frozen objects: each stored version is parsed once however often it is listed.
    const items = sortObjects(kvs.map((kv) => decodeShared(kv)).filter((obj) => matchesFilter(obj, filter)));
    return { items, resourceVersion: String(revision) };
  }

  // ---------------------------------------------------------------- create

  async create<T extends Resource>(input: T, options: { dryRun?: boolean } = {}): Promise<T> {
    const info = objectKind(input);
    const generated = !input.metadata?.name && Boolean(input.metadata?.generateName);
    let obj = this.prepareCreate(info, input);
    if (options.dryRun) return info.kind === 'Service' ? (this.servicePorts.created(obj as unknown as Service).obj as unknown as T) : obj;
    const barrier = await this.writeBarrier();
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const name = obj.metadata.name as string;
      const key = this.key(info, obj.metadata.namespace, name);
      // A Service claims its ports (nodePorts allocated afresh on every attempt) in the same txn.
      const svc = info.kind === 'Service' ? this.servicePorts.created(obj as unknown as Service) : undefined;
      const stored = (svc?.obj as unknown as T | undefined) ?? obj;
      const compares: Compare[] = [{ key, target: 'createRevision', result: '=', revision: 0 }, ...(svc?.extra.compares ?? [])];
      if (info.namespaced) compares.push(await this.namespaceGuard(obj.metadata.namespace as string, barrier));
      const value = encodeObject(stored, this.maxObjectBytes);
      const r = await this.backend.txn(compares, [{ put: { key, value } }, ...(svc?.extra.ops ?? [])]);
      if (r.succeeded) return stampRevision(stored, r.revision); // this call's own copy
      if (this.read(key) !== undefined) {
        if (!generated) throw alreadyExists(info.kind, name);
        obj = this.prepareCreate(info, input); // another random suffix
      }
      // Otherwise the namespace (or a port reservation) changed under us: check it again.
    }
    throw new ApiError('Conflict', `${resourceName(info.kind)}: create of ${JSON.stringify(obj.metadata.name)} kept racing with other writes; try again`, {
      kind: info.kind,
      name: obj.metadata.name,
    });
  }

  /** The object to store: name, namespace, server-owned metadata, defaults; validated. */
  private prepareCreate<T extends Resource>(info: KindInfo, input: T): T {
    const obj = deepClone(input);
    if (!isObject(obj.metadata)) obj.metadata = {};
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) meta.name = nameFromGenerateName(meta.generateName, randomSuffix(this.random));
    if (info.namespaced && !meta.namespace) meta.namespace = DEFAULT_NAMESPACE_NAME;
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    meta.uid = this.newUid();
    meta.creationTimestamp = isoTime(this.now());
    meta.generation = 1;
    if (info.kind === 'Namespace') {
      const ns = obj as unknown as Namespace;
      ns.status = { ...(ns.status ?? {}), phase: 'Active' };
    }
    return validateOrThrow<T>(applyDefaults(obj));
  }

  /**
   * The compare that the namespace is still as checked: it exists and is not being
   * deleted. `default` is created on first need.
   */
  private async namespaceGuard(namespace: string, barrier?: WriteBarrier): Promise<Compare> {
    const key = registryKey('Namespace', undefined, namespace);
    let ns = this.namespaceState(key);
    if (barrier && !barrier.done && (ns === undefined || ns.terminating)) {
      // A "no" read without the barrier may be stale: ask again once caught up.
      await barrier.run();
      ns = this.namespaceState(key);
    }
    if (ns === undefined && namespace === DEFAULT_NAMESPACE_NAME) {
      await this.ensureDefaultNamespace();
      ns = this.namespaceState(key);
    }
    if (ns === undefined) throw notFound('Namespace', namespace);
    if (ns.terminating) {
      throw new ApiError(
        'Forbidden',
        `unable to create new content in namespace ${namespace} because it is being terminated`,
        { kind: 'Namespace', name: namespace },
      );
    }
    return { key, target: 'modRevision', result: '=', revision: ns.modRevision };
  }

  /**
   * A namespace's mod revision and whether it is Terminating, from the local state.
   * Every namespaced create asks; the answer is remembered per version (a key's
   * value at one mod revision never changes), so the namespace is decoded once.
   */
  private namespaceState(key: string): NamespaceState | undefined {
    const kv = this.backend.range(key).kvs[0];
    if (kv === undefined) return undefined;
    const known = this.namespaces.get(key);
    if (known !== undefined && known.modRevision === kv.modRevision) return known;
    const state = { modRevision: kv.modRevision, terminating: decodeObject(kv).metadata.deletionTimestamp !== undefined };
    if (this.namespaces.size >= MAX_REMEMBERED_NAMESPACES) this.namespaces.clear();
    this.namespaces.set(key, state);
    return state;
  }

  /** Creates the `default` namespace if it is missing (the leader calls this when it starts leading). */
  async ensureDefaultNamespace(): Promise<void> {
    await this.backend.linearizableRead();
    const key = registryKey('Namespace', undefined, DEFAULT_NAMESPACE_NAME);
    if (this.read(key) !== undefined) return;
    const ns = this.prepareCreate(kindInfo('Namespace'), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEFAULT_NAMESPACE_NAME } } as Namespace);
    await this.backend.txn([{ key, target: 'createRevision', result: '=', revision: 0 }], [{ put: { key, value: encodeObject(ns, this.maxObjectBytes) } }]);
  }

  // ---------------------------------------------------------------- updates

  async update<T extends Resource>(input: T): Promise<T> {
    const { info, namespace, name } = this.identify(input, 'update');
    const r = await this.mutate(info, namespace, name, (cur) => {
      checkPreconditions(input, cur.obj);
      return this.updated(cur.obj, input);
    });
    await this.afterRemoval(info, r);
    return r.obj as T;
  }

  async updateStatus<T extends Resource>(input: T): Promise<T> {
    const { info, namespace, name } = this.identify(input, 'update');
    const r = await this.mutate(info, namespace, name, (cur) => {
      checkPreconditions(input, cur.obj);
      return this.statusUpdated(cur.obj, (input as unknown as Record<string, unknown>).status);
    });
    return r.obj as T;
  }

  /** RFC 7386 merge patch of the object, or with `status` of its status only. `metadata.resourceVersion` in the patch is a precondition. */
  async patch<K extends KindName>(kind: K, namespace: string | undefined, name: string, patch: unknown, options: { status?: boolean } = {}): Promise<ResourceKinds[K]> {
    const info = mustResolveKind(kind);
    if (!isObject(patch)) throw new ApiError('BadRequest', `patch: must be a JSON object (a merge patch), not ${describe(patch)}`);
    const r = await this.mutate(info, namespace, name, (cur) => {
      const patched = mergePatch(withoutResourceVersion(cur.obj), patch) as Resource;
      if (!isObject(patched.metadata)) throw new ApiError('BadRequest', 'patch: metadata: must stay an object');
      checkPreconditions(patched, cur.obj);
      if (options.status) return this.statusUpdated(cur.obj, (patched as unknown as Record<string, unknown>).status);
      return this.updated(cur.obj, patched);
    });
    await this.afterRemoval(info, r);
    return r.obj as ResourceKinds[K];
  }

  /**
   * `kubectl apply`: create the object from the manifest, or merge the manifest into
   * the live object (fields dropped from the last applied manifest are removed).
   */
  async apply<T extends Resource>(manifest: T, options: { dryRun?: boolean } = {}): Promise<{ object: T; action: 'created' | 'configured' | 'unchanged' }> {
    const { info, namespace, name } = this.identify(manifest, 'apply');
    const config = withoutResourceVersion(manifest);
    if (info.namespaced) config.metadata.namespace = namespace;
    const key = this.key(info, namespace, name);
    await this.backend.linearizableRead();
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const cur = this.read(key);
      if (cur === undefined) {
        try {
          return { object: await this.create(applyManifest(undefined, config), options), action: 'created' };
        } catch (err) {
          if (err instanceof ApiError && err.code === 'AlreadyExists') continue;
          throw err;
        }
      }
      const merged = applyManifest(withoutResourceVersion(cur.obj), config);
      const m = this.updated(cur.obj, merged);
      if ('keep' in m) return { object: cur.obj as T, action: 'unchanged' };
      if (options.dryRun) return { object: ('put' in m ? m.put : cur.obj) as T, action: 'configured' };
      const r = await this.commit(key, cur, m);
      if (r) return { object: r.obj as T, action: 'configured' };
    }
    throw staleConflict(info.kind, name);
  }

  /** The next version of `stored` for an update to `input` (metadata and spec; status kept for status kinds). */
  private updated(stored: Resource, input: Resource): Mutation {
    if (stored.kind === 'Service') return this.servicePorts.updated(stored as Service, input as Service);
    const valid = updatedObject(stored, input);
    if (readyToRemove(valid)) return { remove: true };
    return unchanged(stored, valid) ? { keep: true } : { put: valid };
  }

  private statusUpdated(stored: Resource, status: unknown): Mutation {
    const valid = statusUpdatedObject(stored, status);
    return unchanged(stored, valid) ? { keep: true } : { put: valid };
  }

  // ---------------------------------------------------------------- delete

  /** ControllerClient's delete: `deleteObject` without the outcome. */
  async delete(kind: KindName, namespace: string | undefined, name: string, options: DeleteOptions = {}): Promise<void> {
    await this.deleteObject(kind, namespace, name, options);
  }

  /** Deletes, or starts deleting, an object; NotFound if there is none. */
  async deleteObject(kind: KindName | string, namespace: string | undefined, name: string, options: DeleteOptions = {}): Promise<DeleteOutcome> {
    const info = mustResolveKind(kind);
    checkDeleteOptions(options);
    if (info.kind === 'Namespace') return this.deleteNamespace(name, options);
    const r = await this.mutate(info, namespace, name, (cur) => this.deletion(cur.obj, options));
    await this.afterRemoval(info, r);
    return { object: r.obj, finished: r.removed };
  }

  private deletion(stored: Resource, options: DeleteOptions): Mutation {
    const step: Mutation = deletionStep(stored, options, { now: this.now, gracefulPods: true });
    if ('remove' in step && stored.kind === 'Service') return { remove: true, extra: this.servicePorts.removed(stored as Service) };
    return step;
  }

  /** A namespace is marked Terminating, everything in it deleted (pods gracefully), then it goes once empty. */
  private async deleteNamespace(name: string, options: DeleteOptions): Promise<DeleteOutcome> {
    if (name === DEFAULT_NAMESPACE_NAME) {
      throw new ApiError('Forbidden', `namespaces ${JSON.stringify(name)} is forbidden: this namespace may not be deleted`, { kind: 'Namespace', name });
    }
    const info = kindInfo('Namespace');
    const marked = await this.mutate(info, undefined, name, (cur) => {
      const m = this.deletion(cur.obj, { ...options, propagation: 'Background' });
      if ('remove' in m || 'put' in m) {
        const next = withoutResourceVersion(cur.obj) as Namespace;
        next.metadata.deletionTimestamp = next.metadata.deletionTimestamp ?? isoTime(this.now());
        next.status = { ...(next.status ?? {}), phase: 'Terminating' };
        return unchanged(cur.obj, next) ? { keep: true } : { put: next };
      }
      return m;
    });
    await this.deleteNamespaceContent(name, options.gracePeriodSeconds);
    const removed = await this.finishNamespaceIfEmpty(name);
    return { object: removed ?? marked.obj, finished: removed !== undefined };
  }

  private async deleteNamespaceContent(namespace: string, gracePeriodSeconds: number | undefined): Promise<void> {
    const targets: Array<{ info: KindInfo; name: string }> = [];
    for (const info of KINDS) {
      if (!info.namespaced) continue;
      for (const kv of this.backend.range(registryPrefix(info, namespace), { prefix: true }).kvs) {
        const obj = decodeObject(kv);
        if (obj.metadata.deletionTimestamp !== undefined && !(obj.kind === 'Pod' && gracePeriodSeconds === 0)) continue;
        targets.push({ info, name: obj.metadata.name as string });
      }
    }
    const options: DeleteOptions = gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds };
    await this.bounded(targets, async ({ info, name }) => {
      try {
        await this.mutate(info, namespace, name, (cur) => this.deletion(cur.obj, options));
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 'NotFound')) throw err;
      }
    });
  }

  /** The last object of a Terminating namespace takes the namespace with it. */
  private async afterRemoval(info: KindInfo, r: MutationResult): Promise<void> {
    if (r.removed && info.namespaced) await this.finishNamespaceIfEmpty(r.obj.metadata.namespace as string);
  }

  /** Removes a Terminating namespace that holds nothing any more; returns it if removed. */
  private async finishNamespaceIfEmpty(namespace: string): Promise<Resource | undefined> {
    const key = registryKey('Namespace', undefined, namespace);
    const ns = this.read(key);
    if (ns === undefined || ns.obj.metadata.deletionTimestamp === undefined) return undefined;
    if (KINDS.some((info) => info.namespaced && this.backend.range(registryPrefix(info, namespace), { prefix: true }).kvs.length > 0)) return undefined;
    const r = await this.backend.txn([{ key, target: 'modRevision', result: '=', revision: ns.modRevision }], [{ deleteRange: { key } }]);
    return r.succeeded ? ns.obj : undefined;
  }

  // ---------------------------------------------------------------- pods and events

  async bindPod(namespace: string, name: string, nodeName: string, resourceVersion: string): Promise<Pod> {
    if (typeof nodeName !== 'string' || nodeName === '') throw new ApiError('BadRequest', `bind pod ${JSON.stringify(name)}: node_name: Required value`);
    const info = kindInfo('Pod');
    const r = await this.mutate(info, namespace, name, (cur) => ({ put: boundPod(cur.obj as Pod, name, nodeName, resourceVersion, this.now) }));
    return r.obj as Pod;
  }

  /**
   * Stores an Event, or bumps count and lastTimestamp of an identical one (same
   * object, type, reason, message and component) seen within 10 minutes. The name
   * `<object>.<16 hex>` is derived from what makes events identical, so finding
   * the one to bump is one key read.
   */
  async recordEvent(record: EventRecord): Promise<void> {
    const slot = eventSlot(record, 'event');
    await this.backend.linearizableRead();
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const cur = this.read(slot.key);
      const next = this.foldEvents(slot, cur, [record]);
      const compares: Compare[] = [eventCompare(slot.key, cur)];
      compares.push(await this.namespaceGuard(slot.namespace));
      const r = await this.backend.txn(compares, [{ put: { key: slot.key, value: encodeObject(next, this.maxObjectBytes) } }]);
      if (r.succeeded) return;
    }
    throw staleConflict('Event', slot.name);
  }

  /**
   * Records a batch of events as ONE txn (one Raft proposal): identical events in the
   * batch are merged first, each stored event is guarded by its own compare (absent,
   * or its mod revision for a count bump) and every namespace by its guard. If a
   * concurrent write fails a compare, the events are recorded one by one instead.
   * Malformed records reject the whole batch before anything is written; an event
   * whose namespace is missing or terminating is left out and the first such error
   * is thrown once the others are recorded.
   */
  async recordEvents(records: EventRecord[]): Promise<void> {
    if (!Array.isArray(records)) throw new ApiError('BadRequest', `events: must be a list of event records (got ${describe(records)})`);
    if (records.length === 0) return;
    const slots = new Map<string, EventGroup>();
    records.forEach((record, i) => {
      const slot = eventSlot(record, `events[${i}]`);
      const group = slots.get(slot.key);
      if (group) group.records.push(record);
      else slots.set(slot.key, { slot, records: [record], first: i });
    });
    await this.backend.linearizableRead();
    const compares: Compare[] = [];
    const ops: RequestOp[] = [];
    const guards = new Map<string, Compare | ApiError>();
    const left: EventGroup[] = [];
    let failure: unknown;
    for (const group of slots.values()) {
      const { slot } = group;
      if (!guards.has(slot.namespace)) {
        try {
          const guard = await this.namespaceGuard(slot.namespace);
          guards.set(slot.namespace, guard);
          compares.push(guard);
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          guards.set(slot.namespace, err);
        }
      }
      const guard = guards.get(slot.namespace);
      if (guard instanceof ApiError) {
        failure ??= guard;
        continue;
      }
      const cur = this.read(slot.key);
      let value: string;
      try {
        value = encodeObject(this.foldEvents(slot, cur, group.records), this.maxObjectBytes);
      } catch (err) {
        // An invalid record: nothing is written yet, the whole batch is refused.
        if (err instanceof ApiError) throw new ApiError(err.code, `events[${group.first}]: ${err.message}`, { fieldErrors: err.fieldErrors, kind: err.kind, name: err.objectName });
        throw err;
      }
      compares.push(eventCompare(slot.key, cur));
      ops.push({ put: { key: slot.key, value } });
      left.push(group);
    }
    if (ops.length > 0) {
      const r = await this.backend.txn(compares, ops);
      if (!r.succeeded) {
        // Someone else wrote one of these events (or a namespace) meanwhile: one by one, each with its own retries.
        await this.bounded(left, async (group) => {
          for (const record of group.records) await this.recordEvent(record);
        }).catch((err: unknown) => {
          failure ??= err;
        });
      }
    }
    if (failure !== undefined) throw failure;
  }

  /** The event stored at `slot` after `records` (same identity, in order) on top of `cur`. */
  private foldEvents(slot: EventSlot, cur: Current | undefined, records: EventRecord[]): Event {
    let next = cur ? (withoutResourceVersion(cur.obj) as Event) : undefined;
    for (const record of records) {
      const last = next ? parseTime(next.lastTimestamp) : undefined;
      if (next && last !== undefined && record.timeMs - last < EVENT_AGGREGATION_WINDOW_MS) {
        next.count = (next.count ?? 1) + 1;
        if (record.timeMs > last) next.lastTimestamp = isoTime(record.timeMs);
      } else {
        const meta = { name: slot.name, namespace: slot.namespace, uid: this.newUid(), creationTimestamp: isoTime(this.now()) };
        next = validateOrThrow<Event>(applyDefaults(newEvent(record, meta)));
      }
    }
    return next as Event;
  }

  /**
   * Deletes Events not seen for an hour, and the oldest beyond `maxEvents`. The
   * leader calls it periodically. Returns how many were deleted.
   */
  async sweepEvents(nowMs: number = this.now()): Promise<number> {
    await this.backend.linearizableRead();
    const events = this.backend.range(registryPrefix('Event'), { prefix: true }).kvs.map((kv) => ({ kv, obj: decodeObject(kv) as Event }));
    const seen = (e: Event): number =>
      parseTime(e.lastTimestamp) ?? parseTime(e.eventTime) ?? parseTime(e.firstTimestamp) ?? parseTime(e.metadata.creationTimestamp) ?? 0;
    events.sort((a, b) => seen(a.obj) - seen(b.obj));
    const excess = Math.max(0, events.length - this.maxEvents);
    const doomed = events.filter((e, i) => i < excess || nowMs - seen(e.obj) > EVENT_TTL_MS);
    let deleted = 0;
    await this.bounded(doomed, async ({ kv }) => {
      const r = await this.backend.txn([{ key: kv.key, target: 'modRevision', result: '=', revision: kv.modRevision }], [{ deleteRange: { key: kv.key } }]);
      if (r.succeeded) deleted++;
    });
    return deleted;
  }

  /** Periodic housekeeping for the leader: old events, and Terminating namespaces that became empty. */
  async sweep(nowMs: number = this.now()): Promise<{ eventsDeleted: number; namespacesRemoved: number }> {
    const eventsDeleted = await this.sweepEvents(nowMs);
    let namespacesRemoved = 0;
    for (const kv of this.backend.range(registryPrefix('Namespace'), { prefix: true }).kvs) {
      const ns = decodeObject(kv);
      if (ns.metadata.deletionTimestamp === undefined) continue;
      await this.deleteNamespaceContent(ns.metadata.name as string, undefined);
      if (await this.finishNamespaceIfEmpty(ns.metadata.name as string)) namespacesRemoved++;
    }
    return { eventsDeleted, namespacesRemoved };
  }

  // ---------------------------------------------------------------- watch

  /**
   * Watches a kind: ADDED/MODIFIED/DELETED for objects matching the selectors, after
   * `resourceVersion` (or from now). With `sendInitialEvents`, first ADDED for every
   * matching object and a BOOKMARK at the revision they were read at. `onError` gets
   * the reason a watch ended on the server side (Gone after a snapshot, ...).
   */
  async watch(
    kind: KindName | string,
    options: StoreWatchOptions,
    onEvent: (event: ResourceEvent) => void,
    onError: (error: Error) => void,
  ): Promise<StoreWatch> {
    const info = mustResolveKind(kind);
    const filter = this.filter(info, options);
    const prefix = this.prefix(info, options.namespace);
    const rvText = options.resourceVersion ?? '';
    const fromNow = rvText === '' || rvText === '0';
    let after = fromNow ? 0 : parseRevision(rvText);
    if (fromNow || options.sendInitialEvents) await this.backend.linearizableRead();
    // From here to the backend watch nothing awaits: no write can slip in between.
    if (options.sendInitialEvents) {
      const { kvs, revision } = this.backend.range(prefix, { prefix: true });
      for (const obj of sortObjects(kvs.map((kv) => decodeObject(kv)).filter((o) => matchesFilter(o, filter)))) onEvent({ type: 'ADDED', object: obj });
      onEvent(bookmark(info.kind, info.apiVersion, revision));
      after = Math.max(after, revision);
    } else if (fromNow) {
      after = this.backend.revision;
      if (options.announceStart) onEvent(bookmark(info.kind, info.apiVersion, after));
    }
    let active = true;
    const handle = this.backend.watch(prefix, after + 1, {
      onEvents: (events) => {
        if (!active) return;
        try {
          for (const ev of translateEvents(events, filter)) onEvent(ev);
        } catch (err) {
          active = false;
          handle.cancel();
          onError(err instanceof Error ? err : new Error(String(err)));
        }
      },
      onError: (err) => {
        if (!active) return;
        active = false;
        onError(err);
      },
    });
    return {
      cancel: () => {
        active = false;
        handle.cancel();
      },
    };
  }

  // ---------------------------------------------------------------- plumbing

  private key(info: KindInfo, namespace: string | undefined, name: string): string {
    if (typeof name !== 'string' || name === '') throw new ApiError('BadRequest', `${info.kind}: a name is required`);
    return registryKey(info, info.namespaced ? namespace || DEFAULT_NAMESPACE_NAME : undefined, name);
  }

  private prefix(info: KindInfo, namespace: string | undefined): string {
    return registryPrefix(info, info.namespaced && namespace ? namespace : undefined);
  }

  private filter(info: KindInfo, options: ListOptions): ObjectFilter {
    const filter: ObjectFilter = {};
    if (options.labelSelector) filter.labels = parseLabelSelector(options.labelSelector);
    if (options.fieldSelector) filter.fields = parseFieldSelector(options.fieldSelector, info.kind);
    return filter;
  }

  private read(key: string): Current | undefined {
    const kv = this.backend.range(key).kvs[0];
    return kv === undefined ? undefined : { obj: decodeObject(kv), modRevision: kv.modRevision };
  }

  private identify(input: Resource, verb: string): { info: KindInfo; namespace: string | undefined; name: string } {
    const info = objectKind(input);
    const name = input.metadata?.name;
    if (typeof name !== 'string' || name === '') throw new ApiError('BadRequest', `${info.kind}: metadata.name is required for ${verb === 'apply' ? 'an apply' : 'an update'}`, { kind: info.kind });
    const namespace = info.namespaced ? input.metadata.namespace || DEFAULT_NAMESPACE_NAME : undefined;
    return { info, namespace, name };
  }

  /**
   * Read-modify-write with compare-and-set on the mod revision, re-run on a lost
   * race (`fn` sees the new state; with an explicit resourceVersion it throws Conflict then).
   */
  private async mutate(info: KindInfo, namespace: string | undefined, name: string, fn: (cur: Current) => Mutation): Promise<MutationResult> {
    const key = this.key(info, namespace, name);
    if (this.backend.isLeader === true) {
      const r = await this.mutateOptimistically(info, key, fn);
      if (r) return r;
    }
    await this.backend.linearizableRead();
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const cur = this.read(key);
      if (cur === undefined || cur.obj.kind !== info.kind) throw notFound(info.kind, name);
      const r = await this.commit(key, cur, fn(cur));
      if (r) return r;
    }
    throw staleConflict(info.kind, name);
  }

  /**
   * One attempt on the leader's local state without the read barrier. Only a write
   * whose compare-and-set succeeds is trusted (it proves the state read was current);
   * anything else (not found, `fn` refusing, nothing to write, a lost race) returns
   * undefined and is decided again after the barrier.
   */
  private async mutateOptimistically(info: KindInfo, key: string, fn: (cur: Current) => Mutation): Promise<MutationResult | undefined> {
    const cur = this.read(key);
    if (cur === undefined || cur.obj.kind !== info.kind) return undefined;
    let m: Mutation;
    let value: string | undefined;
    try {
      m = fn(cur);
      if ('put' in m) value = encodeObject(m.put, this.maxObjectBytes);
    } catch {
      return undefined;
    }
    if ('keep' in m) return undefined;
    return this.commit(key, cur, m, value);
  }

  /**
   * Writes one mutation of `cur`; undefined when the compare failed (someone else wrote
   * first). `value`: the put's stored form, when already encoded.
   */
  private async commit(key: string, cur: Current, m: Mutation, value?: string): Promise<MutationResult | undefined> {
    if ('keep' in m) return { obj: cur.obj, removed: false };
    const compare: Compare[] = [{ key, target: 'modRevision', result: '=', revision: cur.modRevision }, ...(m.extra?.compares ?? [])];
    const extraOps = m.extra?.ops ?? [];
    // cur.obj and m.put are this call's own objects (fresh decodes and copies): stamped in place.
    if ('remove' in m) {
      const r = await this.backend.txn(compare, [{ deleteRange: { key } }, ...extraOps]);
      return r.succeeded ? { obj: stampRevision(cur.obj, r.revision), removed: true } : undefined;
    }
    const ops: RequestOp[] = [{ put: { key, value: value ?? encodeObject(m.put, this.maxObjectBytes) } }, ...extraOps];
    const r = await this.backend.txn(compare, ops);
    return r.succeeded ? { obj: stampRevision(m.put, r.revision), removed: false } : undefined;
  }

  /**
   * The read barrier before a write: none on the leader until a local read says "no"
   * (then `run` waits for it once); everywhere else, waited for now.
   */
  private async writeBarrier(): Promise<WriteBarrier> {
    const barrier: WriteBarrier = {
      done: false,
      run: async () => {
        if (barrier.done) return;
        await this.backend.linearizableRead();
        barrier.done = true;
      },
    };
    if (this.backend.isLeader !== true) await barrier.run();
    return barrier;
  }

  /** Runs `fn` over `items` with at most `maxConcurrentWrites` in flight; the first error wins after all settle. */
  private async bounded<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    let failure: unknown;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const item = items[next++];
        try {
          await fn(item);
        } catch (err) {
          failure ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.maxConcurrentWrites, items.length) }, worker));
    if (failure !== undefined) throw failure;
  }
}

/** The kind of an object sent to create/update/apply, with kubectl's message for an unknown one. */
function objectKind(input: unknown): KindInfo {
  if (!isObject(input)) throw new ApiError('BadRequest', `the object must be a JSON object with apiVersion, kind and metadata, not ${describe(input)}`);
  const kind = input.kind;
  if (typeof kind !== 'string' || kind === '') throw new ApiError('BadRequest', 'kind: Required value: the object has no kind');
  const info = resolveKind(kind);
  if (!info || info.kind !== kind) {
    if (info) throw new ApiError('BadRequest', `kind: Invalid value: ${JSON.stringify(kind)}: the kind is spelled ${JSON.stringify(info.kind)}`);
    return mustResolveKind(kind);
  }
  if (input.metadata !== undefined && !isObject(input.metadata)) throw new ApiError('BadRequest', `metadata: must be an object, not ${describe(input.metadata)}`);
  return info;
}

function checkDeleteOptions(options: DeleteOptions): void {
  if (options.propagation !== undefined && !PROPAGATIONS.has(options.propagation)) {
    throw new ApiError('BadRequest', `propagationPolicy: Unsupported value: ${JSON.stringify(options.propagation)}: supported values: "Background", "Foreground", "Orphan"`);
  }
  const grace = options.gracePeriodSeconds;
  if (grace !== undefined && (!Number.isSafeInteger(grace) || grace < 0)) {
    throw new ApiError('BadRequest', `gracePeriodSeconds: Invalid value: ${String(grace)}: must be a non-negative integer`);
  }
}

function parseRevision(text: string): number {
  if (!/^\d{1,15}$/.test(text)) throw new ApiError('BadRequest', `resourceVersion: Invalid value: ${JSON.stringify(text)}: must be a revision number (digits)`);
  return Number(text);
}

/** Sets the resourceVersion of an object the caller owns (no copy) and returns it. */
function stampRevision<T extends Resource>(obj: T, revision: number): T {
  obj.metadata.resourceVersion = String(revision);
  return obj;
}

/** Equal apart from the resourceVersion: writing it would change nothing. */
function unchanged(stored: Resource, next: Resource): boolean {
  return equalButResourceVersion(stored, next);
}

function sortObjects<T extends Resource>(objects: T[]): T[] {
  const keyOf = (o: Resource): [string, string] => [o.metadata.namespace ?? '', o.metadata.name ?? ''];
  return objects.sort((a, b) => {
    const [an, am] = keyOf(a);
    const [bn, bm] = keyOf(b);
    return an < bn ? -1 : an > bn ? 1 : am < bm ? -1 : am > bm ? 1 : 0;
  });
}

/** Where an event record is stored: its namespace, and a name derived from what makes events identical. */
interface EventSlot {
  namespace: string;
  name: string;
  key: string;
}

/** The records of one batch that land on the same stored event, in order; `first` is the index of the first. */
interface EventGroup {
  slot: EventSlot;
  records: EventRecord[];
  first: number;
}

/** Checks the parts of a record that the slot depends on; `where` names it in the error. */
function eventSlot(record: EventRecord, where: string): EventSlot {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new ApiError('BadRequest', `${where}: must be an event record (got ${describe(record)})`);
  const involved = record.involvedObject as EventRecord['involvedObject'] | undefined;
  if (involved === null || typeof involved !== 'object' || Array.isArray(involved)) throw new ApiError('BadRequest', `${where}: involvedObject: Required value`);
  if (typeof record.timeMs !== 'number' || !Number.isFinite(record.timeMs)) {
    throw new ApiError('BadRequest', `${where}: timeMs: must be a number of ms since the epoch (got ${describe(record.timeMs)})`);
  }
  const namespace = involved.namespace || DEFAULT_NAMESPACE_NAME;
  const hash = createHash('sha256').update(eventIdentity(namespace, record)).digest('hex').slice(0, 16);
  const base = String(involved.name ?? 'unknown').slice(0, 253 - 17).replace(/[-.]+$/, '') || 'event';
  const name = `${base}.${hash}`;
  return { namespace, name, key: registryKey('Event', namespace, name) };
}

/** The compare that the stored event is still as read: absent, or at the same mod revision. */
function eventCompare(key: string, cur: Current | undefined): Compare {
  return cur ? { key, target: 'modRevision', result: '=', revision: cur.modRevision } : { key, target: 'createRevision', result: '=', revision: 0 };
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  return `a ${typeof value} (${JSON.stringify(value)})`;
}

