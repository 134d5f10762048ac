/** Taints and tolerations, matched as Kubernetes matches them (v1helper.ToleratesTaint). */
import type { Taint, TaintEffect, Toleration } from '@bramble/api';

/** Put on a node whose Ready condition is False (NoExecute). */
export const TAINT_NODE_NOT_READY = 'node.kubernetes.io/not-ready';
/** Put on a node the leader has not heard from (Ready Unknown) (NoExecute). */
export const TAINT_NODE_UNREACHABLE = 'node.kubernetes.io/unreachable';
/** What a cordoned node (`spec.unschedulable`) means to tolerations. */
export const TAINT_NODE_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
export const TAINT_NODE_MEMORY_PRESSURE = 'node.kubernetes.io/memory-pressure';
export const TAINT_NODE_DISK_PRESSURE = 'node.kubernetes.io/disk-pressure';
export const TAINT_NODE_PID_PRESSURE = 'node.kubernetes.io/pid-pressure';

/**
 * A toleration matches a taint if the effects match (an empty effect matches
 * all), the keys match (an empty key with Exists matches all), and, for
 * Equal (the default operator), the values are equal.
 */
export function toleratesTaint(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  if (toleration.operator === 'Exists') return true;
  return (toleration.value ?? '') === (taint.value ?? '');
}

/** The tolerations that match `taint`. */
export function tolerationsFor(tolerations: readonly Toleration[] | undefined, taint: Taint): Toleration[] {
  return (tolerations ?? []).filter((t) => toleratesTaint(t, taint));
}

/** The first taint with one of `effects` that no toleration matches. */
export function findUntoleratedTaint(
  taints: readonly Taint[] | undefined,
  tolerations: readonly Toleration[] | undefined,
  effects: readonly TaintEffect[] = ['NoSchedule', 'NoExecute'],
): Taint | undefined {
  return (taints ?? []).find((taint) => effects.includes(taint.effect) && tolerationsFor(tolerations, taint).length === 0);
}

/** `{key: value}` as Kubernetes prints a taint in scheduling messages. */
export function formatTaint(taint: Taint): string {
  return `{${taint.key}: ${taint.value ?? ''}}`;
}
