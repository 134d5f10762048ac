/** Pod predicates shared by the controllers, with Kubernetes' meanings. */
import { controllerRef, labelSelectorFromObject, type LabelSelector, type ObjectMeta, type Pod } from '@bramble/api';
import { getCondition } from './conditions.js';
import { parseTime } from './time.js';

/** Succeeded or Failed: the pod will not run again and holds no resources. */
export function isPodTerminated(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

export function isBeingDeleted(obj: { metadata: ObjectMeta }): boolean {
  return obj.metadata.deletionTimestamp !== undefined;
}

/** Counts towards a controller's replicas: not terminated and not being deleted. */
export function isPodActive(pod: Pod): boolean {
  return !isPodTerminated(pod) && !isBeingDeleted(pod);
}

/** The pod's Ready condition is True. */
export function isPodReady(pod: Pod): boolean {
  return getCondition(pod.status?.conditions, 'Ready')?.status === 'True';
}

/** When the pod became Ready (ms), if it is. */
export function podReadySinceMs(pod: Pod): number | undefined {
  const ready = getCondition(pod.status?.conditions, 'Ready');
  if (ready?.status !== 'True') return undefined;
  return parseTime(ready.lastTransitionTime);
}

/**
 * Ready for at least `minReadySeconds` at `nowMs` (Kubernetes'
 * IsPodAvailable). A Ready pod without a transition time counts as available
 * only when minReadySeconds is 0.
 */
export function isPodAvailable(pod: Pod, minReadySeconds: number, nowMs: number): boolean {
  if (!isPodReady(pod)) return false;
  if (minReadySeconds <= 0) return true;
  const since = podReadySinceMs(pod);
  return since !== undefined && since + minReadySeconds * 1000 <= nowMs;
}

/** The uid of the pod's (or any object's) controller owner. */
export function controllerUid(obj: { metadata?: ObjectMeta }): string | undefined {
  return controllerRef(obj)?.uid;
}

export function isControlledBy(obj: { metadata?: ObjectMeta }, owner: { metadata: ObjectMeta }): boolean {
  return owner.metadata.uid !== undefined && controllerUid(obj) === owner.metadata.uid;
}

/** Whether `labels` match a workload's structured selector (a missing selector matches nothing). */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  return labelSelectorFromObject(selector).matches(labels);
}

/** Sum of the containers' restart counts. */
export function restartCount(pod: Pod): number {
  return (pod.status?.containerStatuses ?? []).reduce((sum, c) => sum + (c.restartCount ?? 0), 0);
}

export function podKey(pod: { metadata: ObjectMeta }): string {
  return `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;
}

/** Oldest first by creationTimestamp, then by name: a stable order for creation-order processing. */
export function byCreation(a: { metadata: ObjectMeta }, b: { metadata: ObjectMeta }): number {
  const ta = parseTime(a.metadata.creationTimestamp) ?? 0;
  const tb = parseTime(b.metadata.creationTimestamp) ?? 0;
  if (ta !== tb) return ta - tb;
  const ka = podKey(a);
  const kb = podKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
