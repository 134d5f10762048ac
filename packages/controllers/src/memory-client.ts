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
  deepFreeze,
  kindInfo,
  nameFromGenerateName,
  parseFieldSelector,
  parseLabelSelector,
  randomSuffix,
  registryKey,
  registryPrefix,
  validateOrThrow,
} from '@bramble/api';
import type { Event, KindName, Pod, Resource, ResourceKinds, Service } from '@bramble/api';
import { type ControllerClient, type DeleteOptions, type EventRecord, type ListOptions } from './client.js';
import * as rules from './resource-rules.js';
import { allocateNodePorts, planServicePorts, portOwner, withAllocatedNodePorts, type PortOwner } from './service-ports.js';
import { isoTime } from './util/time.js';
import { seededRandom } from './util/random.js';

export type WriteVerb = 'create' | 'update' | 'updateStatus' | 'delete' | 'bind' | 'event';

export interface WriteOperation {
  verb: WriteVerb;
  kind: string;
  namespace?: string;
  name: string;
}

/** Defaults: `now` always 0, uids `uid-1`, `uid-2`, ..., `random` seeded (seed 1). */
export interface MemoryClientOptions extends rules.ResourceServerOptions {
  /** Default and validate objects like the server does. Default true. */
  validate?: boolean;
  /**
   * Deleting a bound, running pod only marks it (deletionTimestamp) until it is
   * deleted again with `gracePeriodSeconds: 0` (what the agent does once the
   * processes are gone). Default false: pods go at once.
   */
  gracefulPodDeletion?: boolean;
  /** Called before every write; may throw to inject a failure or flip leadership in a test. */
  beforeWrite?: (operation: WriteOperation) => void;
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
  /** Service ports reserved cluster-wide (see service-ports.ts), port -> owner. */
  private readonly servicePorts = new Map<number, PortOwner>();
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
      out.push(deepFreeze(deepClone(obj)));
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
    if (this.objects.has(key)) throw rules.alreadyExists(input.kind, meta.name);
    meta.uid = this.nextUid();
    meta.creationTimestamp = isoTime(this.now());
    meta.generation = 1;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    if (this.validate) obj = validateOrThrow<T>(applyDefaults(obj));
    if (obj.kind === 'Service') {
      allocateNodePorts(obj as unknown as Service, (port) => !this.servicePorts.has(port), this.random);
      this.reservePorts(undefined, obj as unknown as Service);
    }
    return this.store(key, obj);
  }

  async update<T extends Resource>(input: T): Promise<T> {
    const { key, stored } = this.existing(input);
    this.hook('update', input.kind, input.metadata.namespace, input.metadata.name ?? '');
    rules.checkPreconditions(input, stored);
    const isService = stored.kind === 'Service';
    const next = rules.updatedObject(stored, isService ? (withAllocatedNodePorts(stored as unknown as Service, input as unknown as Service) as unknown as T) : input, this.validate);
    if (rules.readyToRemove(next)) {
      this.remove(key);
      next.metadata.resourceVersion = String(this.revisionCounter);
      return next;
    }
    if (isService) {
      allocateNodePorts(next as unknown as Service, (port) => !this.servicePorts.has(port), this.random);
      this.reservePorts(stored as unknown as Service, next as unknown as Service);
    }
    return this.store(key, next);
  }

  async updateStatus<T extends Resource>(input: T): Promise<T> {
    const { key, stored } = this.existing(input);
    this.hook('updateStatus', input.kind, input.metadata.namespace, input.metadata.name ?? '');
    rules.checkPreconditions(input, stored);
    return this.store(key, rules.statusUpdatedObject(stored, (input as unknown as Record<string, unknown>).status, this.validate));
  }

  async delete(kind: KindName, namespace: string | undefined, name: string, options: DeleteOptions = {}): Promise<void> {
    const key = this.key(kind, namespace, name);
    const stored = this.objects.get(key);
    if (!stored) throw rules.notFound(kind, name);
    this.hook('delete', kind, namespace, name);
    const step = rules.deletionStep(stored, options, { now: this.now, gracefulPods: this.gracefulPodDeletion });
    if ('remove' in step) this.remove(key);
    else if ('put' in step) this.store(key, step.put);
  }

  async bindPod(namespace: string, name: string, nodeName: string, resourceVersion: string): Promise<Pod> {
    const key = this.key('Pod', namespace, name);
    const stored = this.objects.get(key) as Pod | undefined;
    if (!stored) throw rules.notFound('Pod', name);
    this.hook('bind', 'Pod', namespace, name);
    return this.store(key, rules.boundPod(stored, name, nodeName, resourceVersion, this.now));
  }

  async recordEvent(record: EventRecord): Promise<void> {
    const involved = record.involvedObject;
    this.hook('event', 'Event', involved.namespace ?? 'default', involved.name ?? '');
    this.storeEvent(record);
  }

  /** Like the server's: all or nothing up to the write (every record checked and every hook run first), then each stored. */
  async recordEvents(records: EventRecord[]): Promise<void> {
    if (!Array.isArray(records)) throw new ApiError('BadRequest', 'events: must be a list of event records');
    records.forEach((record, i) => this.checkEvent(record, `events[${i}]`));
    for (const record of records) this.hook('event', 'Event', record.involvedObject.namespace ?? 'default', record.involvedObject.name ?? '');
    for (const record of records) this.storeEvent(record);
  }

  /** Throws what storing `record` as a new event would throw, changing nothing. */
  private checkEvent(record: EventRecord, where: string): void {
    const involved = record?.involvedObject;
    if (involved === null || typeof involved !== 'object') throw new ApiError('BadRequest', `${where}: involvedObject: Required value`);
    if (typeof record.timeMs !== 'number' || !Number.isFinite(record.timeMs)) throw new ApiError('BadRequest', `${where}: timeMs: must be a number`);
    if (!this.validate) return;
    const meta = { name: `${involved.name ?? 'unknown'}.00000000`, namespace: involved.namespace ?? 'default', uid: 'uid', creationTimestamp: isoTime(record.timeMs) };
    try {
      validateOrThrow<Event>(rules.newEvent(record, meta));
    } catch (err) {
      if (err instanceof ApiError) throw new ApiError(err.code, `${where}: ${err.message}`, { fieldErrors: err.fieldErrors });
      throw err;
    }
  }

  private storeEvent(record: EventRecord): void {
    const involved = record.involvedObject;
    const namespace = involved.namespace ?? 'default';
    const aggregate = rules.eventIdentity(namespace, record);
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
    const event = rules.newEvent(record, { name, namespace, uid: this.nextUid(), creationTimestamp: time });
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
    if (!stored || stored.kind !== input.kind) throw rules.notFound(input.kind, name);
    return { key, stored: stored as T };
  }

  private store<T extends Resource>(key: string, obj: T): T {
    obj.metadata.resourceVersion = String(++this.revisionCounter);
    this.objects.set(key, obj);
    return deepClone(obj);
  }

  private remove(key: string): void {
    this.revisionCounter++;
    const obj = this.objects.get(key);
    if (obj?.kind === 'Service') this.reservePorts(obj as unknown as Service, undefined);
    this.objects.delete(key);
  }

  /** Applies a Service write to the port reservations (throws Invalid, changing nothing, if a port is taken). */
  private reservePorts(stored: Service | undefined, next: Service | undefined): void {
    const plan = planServicePorts(stored, next, (port) => this.servicePorts.get(port));
    for (const port of plan.release) this.servicePorts.delete(port);
    if (next !== undefined) for (const port of plan.claim) this.servicePorts.set(port, portOwner(next));
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
