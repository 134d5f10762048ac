/**
 * The client interface controllers use: the Resources API reduced to what a
 * reconcile loop needs. The master implements it over its Resources service
 * (linearizable reads on the leader); `MemoryClient` is the in-memory twin
 * tests and simulations use.
 *
 * Errors are `ApiError`s from @bramble/api, told apart by `code`:
 * `Conflict` (stale resourceVersion, failed precondition, pod already bound),
 * `NotFound`, `AlreadyExists`, `Invalid`. A client that is not the leader
 * any more throws `NotLeaderError` from `leaderGuard`.
 */
import { ApiError, isApiError } from '@bramble/api';
import type { KindName, ObjectReference, Pod, Resource, ResourceKinds } from '@bramble/api';

/** Set by a Foreground delete: the object stays until its blocking dependents are gone. */
export const FOREGROUND_FINALIZER = 'foregroundDeletion';
/** Set by an Orphan delete: the object stays until its dependents no longer reference it. */
export const ORPHAN_FINALIZER = 'orphan';

/** What happens to an object's dependents (objects whose ownerReferences name it) when it is deleted. */
export type DeletionPropagation = 'Background' | 'Foreground' | 'Orphan';

export interface ListOptions {
  /** Only this namespace (all namespaces when absent; ignored for cluster-scoped kinds). */
  namespace?: string;
  /** String form, e.g. `app=web,tier!=db` (see `parseLabelSelector`). */
  labelSelector?: string;
  /** String form, e.g. `spec.nodeName=node-1,status.phase!=Failed` (see `parseFieldSelector`). */
  fieldSelector?: string;
}

export interface DeleteOptions {
  /**
   * Background (the default): the object goes now, the garbage collector
   * deletes its dependents afterwards. Foreground: the object gets the
   * `foregroundDeletion` finalizer and stays until its blocking dependents
   * are gone. Orphan: the `orphan` finalizer; its dependents lose their
   * owner reference instead of being deleted.
   */
  propagation?: DeletionPropagation;
  /** The delete fails with a Conflict if the object's uid (or resourceVersion) is not this one. */
  preconditions?: { uid?: string; resourceVersion?: string };
  /** 0 removes a pod at once (force) instead of waiting for its agent to confirm it stopped. */
  gracePeriodSeconds?: number;
}

/** One decision worth telling a user about; the client stores it as an `Event` (aggregating repeats). */
export interface EventRecord {
  involvedObject: ObjectReference;
  type: 'Normal' | 'Warning';
  /** CamelCase, e.g. `FailedScheduling`. */
  reason: string;
  message: string;
  /** The reporting controller, e.g. `default-scheduler`. */
  component: string;
  /** When it happened (ms since the epoch, from the controller's clock). */
  timeMs: number;
}

export interface ControllerClient {
  /**
   * Objects of a kind, sorted by namespace and name. Read-only, like an informer's cache:
   * they may be shared with other readers and are frozen; clone before changing one.
   */
  list<K extends KindName>(kind: K, options?: ListOptions): Promise<Array<ResourceKinds[K]>>;
  /** One object, or `undefined` if there is none. */
  get<K extends KindName>(kind: K, namespace: string | undefined, name: string): Promise<ResourceKinds[K] | undefined>;
  /** Creates `obj` (AlreadyExists if the name is taken); returns the stored object with uid and resourceVersion. */
  create<T extends Resource>(obj: T): Promise<T>;
  /**
   * Replaces metadata and spec (status is kept). Optimistic: if
   * `metadata.resourceVersion` is set and stale, throws a Conflict. An
   * object being deleted whose last finalizer this update removes is gone afterwards.
   */
  update<T extends Resource>(obj: T): Promise<T>;
  /** Replaces only `status`, optimistic on `metadata.resourceVersion` like `update`. */
  updateStatus<T extends Resource>(obj: T): Promise<T>;
  /** Deletes (or starts deleting) an object; NotFound if there is none. */
  delete(kind: KindName, namespace: string | undefined, name: string, options?: DeleteOptions): Promise<void>;
  /**
   * Compare-and-set binding: sets `spec.nodeName` and the PodScheduled
   * condition only if the pod's resourceVersion is still `resourceVersion`
   * and it is not bound yet; otherwise throws a Conflict.
   */
  bindPod(namespace: string, name: string, nodeName: string, resourceVersion: string): Promise<Pod>;
  /** Stores an Event for `record` (or bumps the count of an identical recent one). */
  recordEvent(record: EventRecord): Promise<void>;
  /**
   * Stores a batch of events in one write (identical ones merged, aggregated like
   * `recordEvent`). A malformed record refuses the whole batch; otherwise it records
   * every event it can and then throws the first failure, if any.
   */
  recordEvents(records: EventRecord[]): Promise<void>;
}

/** A write that lost a race: stale resourceVersion, failed precondition, or a pod someone else bound. */
export class ConflictError extends ApiError {
  constructor(message: string, options: { kind?: string; name?: string } = {}) {
    super('Conflict', message, options);
    this.name = 'ConflictError';
  }
}

/** Thrown by a `leaderGuard`ed client once leadership is lost: the pass must stop writing at once. */
export class NotLeaderError extends Error {
  constructor(readonly operation: string) {
    super(`not the leader any more: refusing ${operation}`);
    this.name = 'NotLeaderError';
  }
}

export function isConflict(error: unknown): boolean {
  return isApiError(error, 'Conflict');
}

export function isNotFound(error: unknown): boolean {
  return isApiError(error, 'NotFound');
}

export function isAlreadyExists(error: unknown): boolean {
  return isApiError(error, 'AlreadyExists');
}

/** Conflicts and NotFound mean "the world moved on": the next level-triggered pass will see the new state. */
export function isRaceLost(error: unknown): boolean {
  return isConflict(error) || isNotFound(error);
}

/** `base` with some of its methods replaced: a view that reads differently, or a test double around a real client. */
export function withOverrides(base: ControllerClient, overrides: Partial<ControllerClient>): ControllerClient {
  return {
    list: (kind, options) => base.list(kind, options),
    get: (kind, namespace, name) => base.get(kind, namespace, name),
    create: (obj) => base.create(obj),
    update: (obj) => base.update(obj),
    updateStatus: (obj) => base.updateStatus(obj),
    delete: (kind, namespace, name, options) => base.delete(kind, namespace, name, options),
    bindPod: (namespace, name, nodeName, resourceVersion) => base.bindPod(namespace, name, nodeName, resourceVersion),
    recordEvent: (record) => base.recordEvent(record),
    recordEvents: (records) => base.recordEvents(records),
    ...overrides,
  };
}

/**
 * Wraps `client` so that every write first checks `isLeader()` and throws
 * `NotLeaderError` when it is false. Reads are let through (they change nothing).
 */
export function leaderGuard(client: ControllerClient, isLeader: () => boolean): ControllerClient {
  const check = (operation: string): void => {
    if (!isLeader()) throw new NotLeaderError(operation);
  };
  return {
    list: (kind, options) => client.list(kind, options),
    get: (kind, namespace, name) => client.get(kind, namespace, name),
    async create(obj) {
      check(`create ${obj.kind} ${obj.metadata.name ?? ''}`);
      return client.create(obj);
    },
    async update(obj) {
      check(`update ${obj.kind} ${obj.metadata.name ?? ''}`);
      return client.update(obj);
    },
    async updateStatus(obj) {
      check(`updateStatus ${obj.kind} ${obj.metadata.name ?? ''}`);
      return client.updateStatus(obj);
    },
    async delete(kind, namespace, name, options) {
      check(`delete ${kind} ${name}`);
      return client.delete(kind, namespace, name, options);
    },
    async bindPod(namespace, name, nodeName, resourceVersion) {
      check(`bind pod ${namespace}/${name}`);
      return client.bindPod(namespace, name, nodeName, resourceVersion);
    },
    async recordEvent(record) {
      check(`event ${record.reason}`);
      return client.recordEvent(record);
    },
    async recordEvents(records) {
      check(`${records.length} events`);
      return client.recordEvents(records);
    },
  };
}
