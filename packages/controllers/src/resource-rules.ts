/**
 * The server-side rules of the Resources API that are pure functions of the stored
 * and the incoming object: Kubernetes' error messages, which metadata the server
 * owns, which kinds keep status apart, what an update, a status update, a delete
 * and a bind make of the stored object, when a pod needs a graceful stop. The
 * master's ResourceStore and MemoryClient both use these, so controllers see one
 * behaviour in tests and in the cluster.
 *
 * No clock and no I/O: a time comes in as `now`, and the caller stores the result.
 */
import { ApiError, applyDefaults, deepClone, deepEqual, kindInfo, validateStatusOrThrow, validateUpdateOrThrow } from '@bramble/api';
import type { Event, ObjectMeta, Pod, Resource } from '@bramble/api';
import { ConflictError, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, type DeleteOptions, type EventRecord } from './client.js';
import { setCondition } from './util/conditions.js';
import { isoTime } from './util/time.js';

/** What every server of the Resources API takes: where timestamps, uids and name suffixes come from; how many Events it keeps. */
export interface ResourceServerOptions {
  /** The clock for timestamps (ms since the epoch). */
  now?: () => number;
  /** Uid generator. */
  uid?: () => string;
  /** For `generateName` suffixes. */
  random?: () => number;
  /** Bound on stored Events; the oldest go first. Default 10 000. */
  maxEvents?: number;
}

/** Kinds whose `status` is written only through the status subresource. */
export const STATUS_KINDS: ReadonlySet<string> = new Set(['Pod', 'ReplicaSet', 'Deployment', 'DaemonSet', 'Node', 'Namespace', 'Service']);

/** `deployments.apps`, `pods`: the resource as kubectl names it in messages. */
export function resourceName(kind: string): string {
  const info = kindInfo(kind);
  return info.group === '' ? info.plural : `${info.plural}.${info.group}`;
}

export function notFound(kind: string, name: string): ApiError {
  return new ApiError('NotFound', `${resourceName(kind)} ${JSON.stringify(name)} not found`, { kind, name });
}

export function alreadyExists(kind: string, name: string): ApiError {
  return new ApiError('AlreadyExists', `${resourceName(kind)} ${JSON.stringify(name)} already exists`, { kind, name });
}

export function conflict(kind: string, name: string, message: string): ConflictError {
  return new ConflictError(message, { kind, name });
}

/** The Conflict of a write based on an old resourceVersion. */
export function staleConflict(kind: string, name: string): ConflictError {
  return conflict(
    kind,
    name,
    `Operation cannot be fulfilled on ${resourceName(kind)} ${JSON.stringify(name)}: the object has been modified; please apply your changes to the latest version and try again`,
  );
}

/** A stale resourceVersion or a different uid in the object sent is a Conflict ('' means none sent). */
export function checkPreconditions(input: Resource, stored: Resource): void {
  const name = input.metadata.name ?? '';
  const rv = input.metadata.resourceVersion;
  if (rv !== undefined && rv !== '' && rv !== stored.metadata.resourceVersion) throw staleConflict(input.kind, name);
  const uid = input.metadata.uid;
  if (uid !== undefined && uid !== '' && uid !== stored.metadata.uid) {
    throw conflict(input.kind, name, `Precondition failed: UID in object: ${uid}, UID in the store: ${stored.metadata.uid ?? ''}`);
  }
}

/** A delete's preconditions that do not hold are a Conflict ('' means none given). */
export function checkDeletePreconditions(stored: Resource, options: DeleteOptions): void {
  const name = stored.metadata.name ?? '';
  const { uid, resourceVersion } = options.preconditions ?? {};
  if (uid !== undefined && uid !== '' && uid !== stored.metadata.uid) {
    throw conflict(stored.kind, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${stored.metadata.uid ?? ''}`);
  }
  if (resourceVersion !== undefined && resourceVersion !== '' && resourceVersion !== stored.metadata.resourceVersion) {
    throw conflict(
      stored.kind,
      name,
      `Precondition failed: ResourceVersion in precondition: ${resourceVersion}, ResourceVersion in object meta: ${stored.metadata.resourceVersion ?? ''}`,
    );
  }
}

/** Server-owned metadata survives an update whatever the client sent. */
export function carryServerFields(meta: ObjectMeta, stored: ObjectMeta): void {
  meta.uid = stored.uid;
  meta.creationTimestamp = stored.creationTimestamp;
  meta.generation = stored.generation;
  meta.namespace = stored.namespace;
  if (meta.namespace === undefined) delete meta.namespace;
  if (stored.deletionTimestamp === undefined) delete meta.deletionTimestamp;
  else meta.deletionTimestamp = stored.deletionTimestamp;
  if (stored.deletionGracePeriodSeconds === undefined) delete meta.deletionGracePeriodSeconds;
  else meta.deletionGracePeriodSeconds = stored.deletionGracePeriodSeconds;
  delete meta.generateName;
  if (stored.generateName !== undefined) meta.generateName = stored.generateName;
}

/** A copy of `obj` without its resourceVersion (the write that stores it sets a new one). */
function unversioned<T extends Resource>(obj: T): T {
  const copy = deepClone(obj);
  if (copy.metadata) delete copy.metadata.resourceVersion;
  return copy;
}

/**
 * The next version of `stored` for an update to `input` (preconditions already
 * checked): server-owned metadata carried, status kept for status kinds, defaulted
 * and validated unless `validate` is false, generation bumped on a spec change.
 */
export function updatedObject<T extends Resource>(stored: T, input: T, validate = true): T {
  let next = unversioned(input);
  carryServerFields(next.metadata, stored.metadata);
  const record = next as unknown as Record<string, unknown>;
  const storedRecord = stored as unknown as Record<string, unknown>;
  if (STATUS_KINDS.has(stored.kind)) {
    if (storedRecord.status === undefined) delete record.status;
    else record.status = deepClone(storedRecord.status);
  }
  if (validate) next = validateUpdateOrThrow(stored, applyDefaults(next)) as T;
  if (!deepEqual(storedRecord.spec, (next as unknown as Record<string, unknown>).spec)) {
    next.metadata.generation = (stored.metadata.generation ?? 0) + 1;
  }
  return next;
}

/**
 * The next version of `stored` with `status` (undefined or null: none). Unless `validate` is
 * false, the status is validated; the rest is `stored`, valid when it was written.
 */
export function statusUpdatedObject<T extends Resource>(stored: T, status: unknown, validate = true): T {
  const next = unversioned(stored);
  const record = next as unknown as Record<string, unknown>;
  if (status === undefined || status === null) delete record.status;
  else record.status = deepClone(status);
  return validate ? validateStatusOrThrow(next) : next;
}

/** A pod bound to a node and not terminated is stopped by its agent before it goes. */
export function podNeedsGracefulStop(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return Boolean(pod.spec.nodeName) && phase !== 'Succeeded' && phase !== 'Failed';
}

/** A pod being deleted that waits for its agent to confirm the processes stopped. */
export function awaitingAgent(obj: Resource): boolean {
  return obj.kind === 'Pod' && (obj.metadata.deletionGracePeriodSeconds ?? 0) > 0;
}

/** Deleted, and nothing holds it back any more: the object can leave the store. */
export function readyToRemove(obj: Resource): boolean {
  return obj.metadata.deletionTimestamp !== undefined && (obj.metadata.finalizers ?? []).length === 0 && !awaitingAgent(obj);
}

/** What a delete does to the stored object: nothing, remove it, or store this marked version. */
export type DeletionStep<T extends Resource = Resource> = { keep: true } | { remove: true } | { put: T };

export interface DeletionContext {
  /** The clock for the deletionTimestamp (ms). */
  now: () => number;
  /** Whether a bound, running pod is only marked until its agent confirms (a real server: true). */
  gracefulPods: boolean;
}

/**
 * A delete of `stored`: preconditions, finalizers for the propagation, and a pod's
 * graceful stop. A second delete with gracePeriodSeconds 0 ends a pod's graceful stop
 * (the agent's confirmation); any other second delete changes nothing.
 */
export function deletionStep<T extends Resource>(stored: T, options: DeleteOptions, context: DeletionContext): DeletionStep<T> {
  checkDeletePreconditions(stored, options);
  const next = unversioned(stored);
  const finalizers = [...(next.metadata.finalizers ?? [])];
  const force = options.gracePeriodSeconds === 0;
  if (next.metadata.deletionTimestamp !== undefined) {
    if (next.kind === 'Pod' && force && awaitingAgent(next)) {
      next.metadata.deletionGracePeriodSeconds = 0;
      return finalizers.length === 0 ? { remove: true } : { put: next };
    }
    return { keep: true };
  }
  if (options.propagation === 'Foreground' && !finalizers.includes(FOREGROUND_FINALIZER)) finalizers.push(FOREGROUND_FINALIZER);
  if (options.propagation === 'Orphan' && !finalizers.includes(ORPHAN_FINALIZER)) finalizers.push(ORPHAN_FINALIZER);
  const pod = next.kind === 'Pod' ? (next as unknown as Pod) : undefined;
  const graceful = pod !== undefined && context.gracefulPods && !force && podNeedsGracefulStop(pod);
  if (finalizers.length === 0 && !graceful) return { remove: true };
  if (finalizers.length > 0) next.metadata.finalizers = finalizers;
  next.metadata.deletionTimestamp = isoTime(context.now());
  if (pod !== undefined) {
    next.metadata.deletionGracePeriodSeconds = graceful ? (options.gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30) : 0;
  }
  return { put: next };
}

/**
 * The pod `stored` bound to `nodeName`, if it is still at `resourceVersion`, not
 * bound and not being deleted (a Conflict otherwise): the compare-and-set of a scheduler.
 */
export function boundPod(stored: Pod, name: string, nodeName: string, resourceVersion: string, now: () => number): Pod {
  if (stored.metadata.resourceVersion !== resourceVersion) throw staleConflict('Pod', name);
  if (stored.spec.nodeName) throw conflict('Pod', name, `pod ${name} is already assigned to node ${JSON.stringify(stored.spec.nodeName)}`);
  if (stored.metadata.deletionTimestamp !== undefined) throw conflict('Pod', name, `pod ${name} is being deleted, cannot be assigned to a host`);
  const next = unversioned(stored);
  next.spec.nodeName = nodeName;
  next.status = next.status ?? {};
  next.status.conditions = setCondition(next.status.conditions, { type: 'PodScheduled', status: 'True', lastTransitionTime: isoTime(now()) });
  return next;
}

/** What makes two events the same (then the stored one's count goes up): the object, type, reason, message and component. */
export function eventIdentity(namespace: string, record: EventRecord): string {
  const involved = record.involvedObject;
  return JSON.stringify([namespace, involved.kind, involved.name, involved.uid, record.type, record.reason, record.message, record.component]);
}

/** The first Event for `record` (not yet defaulted or validated), seen at `record.timeMs`. */
export function newEvent(record: EventRecord, meta: { name: string; namespace: string; uid: string; creationTimestamp: string }): Event {
  const time = isoTime(record.timeMs);
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { ...meta, generation: 1 },
    involvedObject: { ...record.involvedObject, namespace: meta.namespace },
    reason: record.reason,
    message: record.message,
    type: record.type,
    source: { component: record.component },
    reportingComponent: record.component,
    firstTimestamp: time,
    lastTimestamp: time,
    count: 1,
  };
}
