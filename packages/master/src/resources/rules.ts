/**
 * The server-side rules of the Resources API that are pure functions of the stored
 * and the incoming object: Kubernetes' error messages, which metadata the server
 * owns, which kinds keep status apart, when a pod needs a graceful stop. The same
 * rules as MemoryClient (packages/controllers) so controllers see one behaviour.
 */
import { ApiError, kindInfo } from '@bramble/api';
import type { ObjectMeta, Pod, Resource } from '@bramble/api';

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

export function staleConflict(kind: string, name: string): ApiError {
  return new ApiError(
    'Conflict',
    `Operation cannot be fulfilled on ${resourceName(kind)} ${JSON.stringify(name)}: the object has been modified; please apply your changes to the latest version and try again`,
    { kind, name },
  );
}

export function conflict(kind: string, name: string, message: string): ApiError {
  return new ApiError('Conflict', message, { kind, name });
}

/** A stale resourceVersion or a different uid in the object sent is a Conflict. */
export function checkPreconditions(input: Resource, stored: Resource): void {
  const name = input.metadata.name ?? '';
  const rv = input.metadata.resourceVersion;
  if (rv !== undefined && rv !== '' && rv !== stored.metadata.resourceVersion) throw staleConflict(input.kind, name);
  const uid = input.metadata.uid;
  if (uid !== undefined && uid !== '' && uid !== stored.metadata.uid) {
    throw conflict(input.kind, name, `Precondition failed: UID in object: ${uid}, UID in the store: ${stored.metadata.uid ?? ''}`);
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
