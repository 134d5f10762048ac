/**
 * MemoryClient: the in-memory twin of the Resources API for tests and
 * simulations (like hashicorp/raft's InmemTransport). It keeps the rules a
 * controller can observe: uids and a global resourceVersion counter,
 * optimistic updates (a stale resourceVersion is a Conflict), generation bumps
 * on spec changes, status kept apart from spec, finalizers and deletion
 * propagation, compare-and-set pod binding, label/field selectors, defaults
 * and validation from @bramble/api, and Event aggregation.
 *
 * Nothing here reads a clock or Math.random: time, uids and name suffixes
 * come from the injected `now`, `uid` and `random`.
 */
import {
  ApiError,
  applyDefaults,
  deepClone,
  deepEqual,
  kindInfo,
  nameFromGenerateName,
  parseFieldSelector,
  parseLabelSelector,
  randomSuffix,
  registryKey,
  registryPrefix,
  validateOrThrow,
  validateUpdateOrThrow,
} from '@bramble/api';
import type { Event, KindName, ObjectMeta, Pod, Resource, ResourceKinds } from '@bramble/api';
import {
  ConflictError,
  FOREGROUND_FINALIZER,
  ORPHAN_FINALIZER,
  type ControllerClient,
  type DeleteOptions,
  type EventRecord,
  type ListOptions,
} from './client.js';
import { setCondition } from './util/conditions.js';
import { isoTime } from './util/time.js';
import { seededRandom } from './util/random.js';


/** Kinds whose `status` is written only through `updateStatus`. */
const STATUS_KINDS = new Set<string>(['Pod', 'ReplicaSet', 'Deployment', 'DaemonSet', 'Node', 'Namespace', 'Service']);

export type WriteVerb = 'create' | 'update' | 'updateStatus' | 'delete' | 'bind' | 'event';

export interface WriteOperation {
  verb: WriteVerb;
  kind: string;
  namespace?: string;
  name: string;
}

export interface MemoryClientOptions {
  /** The clock for timestamps (ms). Default: always 0. */
  now?: () => number;
  /** Uid generator. Default: `uid-1`, `uid-2`, ... */
  uid?: () => string;
  /** For `generateName` suffixes. Default: seeded generator (seed 1). */
  random?: () => number;
  /** Default and validate objects like the server does. Default true. */
  validate?: boolean;
  /**
   * Deleting a bound, running pod only marks it (deletionTimestamp) until it is
   * deleted again with `gracePeriodSeconds: 0` (what the agent does once the
   * processes are gone). Default false: pods go at once.
   */
  gracefulPodDeletion?: boolean;
  /** Bound on stored Events; the oldest goes first. Default 10000. */
  maxEvents?: number;
  /** Called before every write; may throw to inject a failure or flip leadership in a test. */
  beforeWrite?: (operation: WriteOperation) => void;
}

function notFound(kind: string, name: string): ApiError {
  return new ApiError('NotFound', `${kindInfo(kind).plural} ${JSON.stringify(name)} not found`, { kind, name });
}

function staleMessage(kind: string, name: string): string {
  return `Operation cannot be fulfilled on ${kindInfo(kind).plural} ${JSON.stringify(name)}: the object has been modified; please apply your changes to the latest version and try again`;
}

export class MemoryClient implements ControllerClient {
  private readonly objects = new Map<string, Resource>();
  private readonly now: () => number;
  private readonly nextUid: () => string;
  private readonly random: () => number;
  private readonly validate: boolean;
  private readonly gracefulPodDeletion: boolean;
  private readonly maxEvents: number;
  private readonly beforeWrite: ((operation: WriteOperation) => void) | undefined;
  private revisionCounter = 0;
  private uidCounter = 0;
  private eventCounter = 0;
  /** Aggregation key -> event key. */
  private readonly eventKeys = new Map<string, string>();
  /** Writes by verb, for tests that check a pass changed nothing. */
  readonly writes: WriteOperation[] = [];

  constructor(options: MemoryClientOptions = {}) {
    this.now = options.now ?? (() => 0);
    this.nextUid = options.uid ?? (() => `uid-${++this.uidCounter}`);
    this.random = options.random ?? seededRandom(1);
    this.validate = options.validate ?? true;
    this.gracefulPodDeletion = options.gracefulPodDeletion ?? false;
    this.maxEvents = options.maxEvents ?? 10_000;
    this.beforeWrite = options.beforeWrite;
  }

  /** The store's revision: bumped by every write, like etcd's. */
  get revision(): number {
    return this.revisionCounter;
  }

  async list<K extends KindName>(kind: K, options: ListOptions = {}): Promise<Array<ResourceKinds[K]>> {
    const info = kindInfo(kind);
    const prefix = registryPrefix(info, info.namespaced ? options.namespace : undefined);
    const labels = options.labelSelector ? parseLabelSelector(options.labelSelector) : undefined;
    const fields = options.fieldSelector ? parseFieldSelector(options.fieldSelector, kind) : undefined;
    const out: Array<ResourceKinds[K]> = [];
    for (const key of [...this.objects.keys()].sort()) {
      if (!key.startsWith(prefix)) continue;
      const obj = this.objects.get(key) as ResourceKinds[K];
      if (labels && !labels.matches(obj.metadata.labels)) continue;
      if (fields && !fields.matches(obj)) continue;
      out.push(deepClone(obj));
    }
    return out;
  }

  async get<K extends KindName>(kind: K, namespace: string | undefined, name: string): Promise<ResourceKinds[K] | undefined> {
    const obj = this.objects.get(this.key(kind, namespace, name));
    return obj === undefined ? undefined : (deepClone(obj) as ResourceKinds[K]);
  }

  async create<T extends Resource>(input: T): Promise<T> {
    const info = kindInfo(input.kind);
    let obj = deepClone(input);
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) meta.name = nameFromGenerateName(meta.generateName, randomSuffix(this.random));
    if (!meta.name) throw new ApiError('Invalid', `${input.kind}: metadata.name: Required value: name or generateName is required`, { kind: input.kind });
    if (info.namespaced && !meta.namespace) meta.namespace = 'default';
    if (!info.namespaced) delete meta.namespace;
    const key = this.key(input.kind, meta.namespace, meta.name);
    this.hook('create', input.kind, meta.namespace, meta.name);
    if (this.objects.has(key)) {
      throw new ApiError('AlreadyExists', `${info.plural} ${JSON.stringify(meta.name)} already exists`, { kind: input.kind, name: meta.name });
    }
    meta.uid = this.nextUid();
    meta.creationTimestamp = isoTime(this.now());
    meta.generation = 1;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    if (this.validate) obj = validateOrThrow<T>(applyDefaults(obj));
    return this.store(key, obj);
  }

  async update<T extends Resource>(input: T): Promise<T> {
    const { key, stored } = this.existing(input);
    this.hook('update', input.kind, input.metadata.namespace, input.metadata.name ?? '');
    this.checkResourceVersion(input, stored);
    let next = deepClone(input);
    this.carryServerFields(next.metadata, stored.metadata);
    const record = next as unknown as Record<string, unknown>;
    const storedRecord = stored as unknown as Record<string, unknown>;
    if (STATUS_KINDS.has(input.kind)) {
      if (storedRecord.status === undefined) delete record.status;
      else record.status = deepClone(storedRecord.status);
    }
    if (this.validate) next = validateUpdateOrThrow(stored, applyDefaults(next)) as T;
    const nextRecord = next as unknown as Record<string, unknown>;
    if (!deepEqual(storedRecord.spec, nextRecord.spec)) next.metadata.generation = (stored.metadata.generation ?? 0) + 1;
    const awaitingAgent = next.kind === 'Pod' && (next.metadata.deletionGracePeriodSeconds ?? 0) > 0;
    if (next.metadata.deletionTimestamp !== undefined && (next.metadata.finalizers ?? []).length === 0 && !awaitingAgent) {
      this.remove(key);
      next.metadata.resourceVersion = String(this.revisionCounter);
      return next;
    }
    return this.store(key, next);
  }

  async updateStatus<T extends Resource>(input: T): Promise<T> {
    const { key, stored } = this.existing(input);
    this.hook('updateStatus', input.kind, input.metadata.namespace, input.metadata.name ?? '');
    this.checkResourceVersion(input, stored);
    let next = deepClone(stored) as T;
    const status = (input as unknown as Record<string, unknown>).status;
    const record = next as unknown as Record<string, unknown>;
    if (status === undefined) delete record.status;
    else record.status = deepClone(status);
    if (this.validate) next = validateOrThrow<T>(next);
    return this.store(key, next);
  }

  async delete(kind: KindName, namespace: string | undefined, name: string, options: DeleteOptions = {}): Promise<void> {
    const key = this.key(kind, namespace, name);
    const stored = this.objects.get(key);
    if (!stored) throw notFound(kind, name);
    this.hook('delete', kind, namespace, name);
    const { uid, resourceVersion } = options.preconditions ?? {};
    if (uid !== undefined && uid !== stored.metadata.uid) {
      throw new ConflictError(
        `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${stored.metadata.uid ?? ''}`,
        { kind, name },
      );
    }
    if (resourceVersion !== undefined && resourceVersion !== stored.metadata.resourceVersion) {
      throw new ConflictError(
        `Precondition failed: ResourceVersion in precondition: ${resourceVersion}, ResourceVersion in object meta: ${stored.metadata.resourceVersion ?? ''}`,
        { kind, name },
      );
    }
    const next = deepClone(stored);
    const finalizers = [...(next.metadata.finalizers ?? [])];
    const force = options.gracePeriodSeconds === 0;
    if (next.metadata.deletionTimestamp !== undefined) {
      // A second delete: with gracePeriodSeconds 0 it ends a pod's graceful stop (the agent's confirmation).
      if (kind === 'Pod' && force && (next.metadata.deletionGracePeriodSeconds ?? 0) > 0) {
        next.metadata.deletionGracePeriodSeconds = 0;
        if (finalizers.length === 0) this.remove(key);
        else this.store(key, next);
      }
      return;
    }
    if (options.propagation === 'Foreground' && !finalizers.includes(FOREGROUND_FINALIZER)) finalizers.push(FOREGROUND_FINALIZER);
    if (options.propagation === 'Orphan' && !finalizers.includes(ORPHAN_FINALIZER)) finalizers.push(ORPHAN_FINALIZER);
    const graceful = kind === 'Pod' && this.gracefulPodDeletion && !force && this.podNeedsGracefulStop(next as Pod);
    if (finalizers.length === 0 && !graceful) {
      this.remove(key);
      return;
    }
    if (finalizers.length > 0) next.metadata.finalizers = finalizers;
    next.metadata.deletionTimestamp = isoTime(this.now());
    if (kind === 'Pod') next.metadata.deletionGracePeriodSeconds = graceful ? ((next as Pod).spec.terminationGracePeriodSeconds ?? 30) : 0;
    this.store(key, next);
  }

  async bindPod(namespace: string, name: string, nodeName: string, resourceVersion: string): Promise<Pod> {
    const key = this.key('Pod', namespace, name);
    const stored = this.objects.get(key) as Pod | undefined;
    if (!stored) throw notFound('Pod', name);
    this.hook('bind', 'Pod', namespace, name);
    if (stored.metadata.resourceVersion !== resourceVersion) throw new ConflictError(staleMessage('Pod', name), { kind: 'Pod', name });
    if (stored.spec.nodeName) {
      throw new ConflictError(`pod ${name} is already assigned to node ${JSON.stringify(stored.spec.nodeName)}`, { kind: 'Pod', name });
    }
    if (stored.metadata.deletionTimestamp !== undefined) {
      throw new ConflictError(`pod ${name} is being deleted, cannot be assigned to a host`, { kind: 'Pod', name });
    }
    const next = deepClone(stored);
    next.spec.nodeName = nodeName;
    next.status = next.status ?? {};
    next.status.conditions = setCondition(next.status.conditions, {
      type: 'PodScheduled',
      status: 'True',
      lastTransitionTime: isoTime(this.now()),
    });
    return this.store(key, next);
  }

  async recordEvent(record: EventRecord): Promise<void> {
    const involved = record.involvedObject;
    const namespace = involved.namespace ?? 'default';
    this.hook('event', 'Event', namespace, involved.name ?? '');
    const aggregate = JSON.stringify([namespace, involved.kind, involved.name, involved.uid, record.type, record.reason, record.message, record.component]);
    const time = isoTime(record.timeMs);
    const existingKey = this.eventKeys.get(aggregate);
    const existing = existingKey === undefined ? undefined : (this.objects.get(existingKey) as Event | undefined);
    if (existing && existingKey !== undefined) {
      const next = deepClone(existing);
      next.count = (next.count ?? 1) + 1;
      next.lastTimestamp = time;
      next.involvedObject = { ...involved };
      this.store(existingKey, next);
      return;
    }
    const name = `${involved.name ?? 'unknown'}.${(++this.eventCounter).toString(16).padStart(8, '0')}`;
    const event: Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace, uid: this.nextUid(), creationTimestamp: time, generation: 1 },
      involvedObject: { ...involved, namespace },
      reason: record.reason,
      message: record.message,
      type: record.type,
      source: { component: record.component },
      reportingComponent: record.component,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
    const key = this.key('Event', namespace, name);
    this.store(key, this.validate ? validateOrThrow<Event>(event) : event);
    this.eventKeys.set(aggregate, key);
    this.trimEvents();
  }

  // ---- helpers ------------------------------------------------------------------

  private key(kind: string, namespace: string | undefined, name: string): string {
    const info = kindInfo(kind);
    return registryKey(info, info.namespaced ? (namespace || 'default') : undefined, name);
  }

  private hook(verb: WriteVerb, kind: string, namespace: string | undefined, name: string): void {
    const operation: WriteOperation = { verb, kind, name };
    if (namespace !== undefined) operation.namespace = namespace;
    this.beforeWrite?.(operation);
    this.writes.push(operation);
  }

  private existing<T extends Resource>(input: T): { key: string; stored: T } {
    const name = input.metadata.name;
    if (!name) throw new ApiError('BadRequest', `${input.kind}: metadata.name is required for an update`);
    const key = this.key(input.kind, input.metadata.namespace, name);
    const stored = this.objects.get(key);
    if (!stored || stored.kind !== input.kind) throw notFound(input.kind, name);
    return { key, stored: stored as T };
  }

  private checkResourceVersion(input: Resource, stored: Resource): void {
    const rv = input.metadata.resourceVersion;
    if (rv !== undefined && rv !== stored.metadata.resourceVersion) {
      throw new ConflictError(staleMessage(input.kind, input.metadata.name ?? ''), { kind: input.kind, name: input.metadata.name });
    }
    const uid = input.metadata.uid;
    if (uid !== undefined && uid !== stored.metadata.uid) {
      throw new ConflictError(
        `Precondition failed: UID in object: ${uid}, UID in the store: ${stored.metadata.uid ?? ''}`,
        { kind: input.kind, name: input.metadata.name },
      );
    }
  }

  /** Server-owned metadata survives an update whatever the client sent. */
  private carryServerFields(meta: ObjectMeta, stored: ObjectMeta): void {
    meta.uid = stored.uid;
    meta.creationTimestamp = stored.creationTimestamp;
    meta.generation = stored.generation;
    meta.namespace = stored.namespace;
    if (meta.namespace === undefined) delete meta.namespace;
    if (stored.deletionTimestamp === undefined) delete meta.deletionTimestamp;
    else meta.deletionTimestamp = stored.deletionTimestamp;
    if (stored.deletionGracePeriodSeconds === undefined) delete meta.deletionGracePeriodSeconds;
    else meta.deletionGracePeriodSeconds = stored.deletionGracePeriodSeconds;
  }

  private podNeedsGracefulStop(pod: Pod): boolean {
    const phase = pod.status?.phase;
    return Boolean(pod.spec.nodeName) && phase !== 'Succeeded' && phase !== 'Failed';
  }

  private store<T extends Resource>(key: string, obj: T): T {
    obj.metadata.resourceVersion = String(++this.revisionCounter);
    this.objects.set(key, obj);
    return deepClone(obj);
  }

  private remove(key: string): void {
    this.revisionCounter++;
    this.objects.delete(key);
  }

  private trimEvents(): void {
    if (this.eventKeys.size <= this.maxEvents) return;
    for (const [aggregate, key] of this.eventKeys) {
      this.objects.delete(key);
      this.eventKeys.delete(aggregate);
      if (this.eventKeys.size <= this.maxEvents) break;
    }
  }
}
