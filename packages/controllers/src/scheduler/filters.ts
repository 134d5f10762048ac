/**
 * Filters: can this pod run on this node at all? Each filter returns the
 * reasons it cannot (Kubernetes' wording, so FailedScheduling messages read
 * the same), or nothing. A node is feasible when every filter passes.
 */
import type { Node, Pod } from '@bramble/api';
import { findUntoleratedTaint, formatTaint, TAINT_NODE_UNSCHEDULABLE, tolerationsFor } from '../taints.js';
import { getCondition } from '../util/conditions.js';
import { controllerUid, isPodActive, isPodTerminated } from '../util/pods.js';
import { nodeAllocatable, podRequests, podRequestsNonZero, type NodeCapacity, type Resources } from './resources.js';

export const REASON_NOT_READY = 'node(s) were not ready';
export const REASON_UNSCHEDULABLE = 'node(s) were unschedulable';
export const REASON_SELECTOR = "node(s) didn't match Pod's node affinity/selector";
export const REASON_TOO_MANY_PODS = 'Too many pods';
export const REASON_INSUFFICIENT_CPU = 'Insufficient cpu';
export const REASON_INSUFFICIENT_MEMORY = 'Insufficient memory';

export function untoleratedTaintReason(taint: { key: string; value?: string }): string {
  return `node(s) had untolerated taint ${formatTaint({ ...taint, effect: 'NoSchedule' })}`;
}

/** A node with what is already bound to it (non-terminated pods only). */
export interface NodeInfo {
  node: Node;
  name: string;
  allocatable: NodeCapacity;
  requested: Resources;
  /** Requests with Kubernetes' non-zero defaults, for scoring. */
  nonZeroRequested: Resources;
  pods: readonly Pod[];
  /** Active pods per controller uid, computed on first use (spreading asks it for every pod). */
  ownerCounts?: Map<string, number>;
}

const requestCache = new WeakMap<Pod, { exact: Resources; nonZero: Resources }>();

/** Requests of a pod, cached per object (a pass reuses the same pod objects across many nodes). */
export function cachedRequests(pod: Pod): { exact: Resources; nonZero: Resources } {
  let cached = requestCache.get(pod);
  if (!cached) {
    cached = { exact: podRequests(pod), nonZero: podRequestsNonZero(pod) };
    requestCache.set(pod, cached);
  }
  return cached;
}

export function nodeInfo(node: Node, podsOnNode: readonly Pod[]): NodeInfo {
  const pods = podsOnNode.filter((p) => !isPodTerminated(p));
  const requested = { cpuMillis: 0, memoryBytes: 0 };
  const nonZeroRequested = { cpuMillis: 0, memoryBytes: 0 };
  for (const pod of pods) {
    const r = cachedRequests(pod);
    requested.cpuMillis += r.exact.cpuMillis;
    requested.memoryBytes += r.exact.memoryBytes;
    nonZeroRequested.cpuMillis += r.nonZero.cpuMillis;
    nonZeroRequested.memoryBytes += r.nonZero.memoryBytes;
  }
  return { node, name: node.metadata.name ?? '', allocatable: nodeAllocatable(node), requested, nonZeroRequested, pods };
}

/**
 * Counts `pod` against `info` in place: the scheduler's assumption, within one pass,
 * that a placement it decided will be bound.
 */
export function assumePod(info: NodeInfo, pod: Pod): void {
  if (isPodTerminated(pod)) return;
  const r = cachedRequests(pod);
  info.pods = [...info.pods, pod];
  info.requested = { cpuMillis: info.requested.cpuMillis + r.exact.cpuMillis, memoryBytes: info.requested.memoryBytes + r.exact.memoryBytes };
  info.nonZeroRequested = {
    cpuMillis: info.nonZeroRequested.cpuMillis + r.nonZero.cpuMillis,
    memoryBytes: info.nonZeroRequested.memoryBytes + r.nonZero.memoryBytes,
  };
  const owner = controllerUid(pod);
  if (info.ownerCounts && owner !== undefined && isPodActive(pod)) info.ownerCounts.set(owner, (info.ownerCounts.get(owner) ?? 0) + 1);
}

export function isNodeReady(node: Node): boolean {
  return getCondition(node.status?.conditions, 'Ready')?.status === 'True';
}

export function filterReady(_pod: Pod, info: NodeInfo): string[] {
  return isNodeReady(info.node) ? [] : [REASON_NOT_READY];
}

/** A cordoned node takes only pods that tolerate `node.kubernetes.io/unschedulable:NoSchedule` (daemon pods). */
export function filterUnschedulable(pod: Pod, info: NodeInfo): string[] {
  if (info.node.spec?.unschedulable !== true) return [];
  const tolerated = tolerationsFor(pod.spec.tolerations, { key: TAINT_NODE_UNSCHEDULABLE, effect: 'NoSchedule' }).length > 0;
  return tolerated ? [] : [REASON_UNSCHEDULABLE];
}

/** NoSchedule and NoExecute taints must be tolerated (PreferNoSchedule only lowers nothing here). */
export function filterTaints(pod: Pod, info: NodeInfo): string[] {
  const taint = findUntoleratedTaint(info.node.spec?.taints, pod.spec.tolerations);
  return taint ? [untoleratedTaintReason(taint)] : [];
}

/** Every `nodeSelector` label must be on the node with the same value. */
export function filterNodeSelector(pod: Pod, info: NodeInfo): string[] {
  const labels = info.node.metadata.labels ?? {};
  const ok = Object.entries(pod.spec.nodeSelector ?? {}).every(([k, v]) => labels[k] === v);
  return ok ? [] : [REASON_SELECTOR];
}

/** Pod count, cpu and memory requests must fit in allocatable minus what bound pods request. */
export function filterResources(pod: Pod, info: NodeInfo): string[] {
  const reasons: string[] = [];
  const want = cachedRequests(pod).exact;
  if (info.pods.length + 1 > info.allocatable.pods) reasons.push(REASON_TOO_MANY_PODS);
  if (want.cpuMillis > 0 && info.requested.cpuMillis + want.cpuMillis > info.allocatable.cpuMillis) reasons.push(REASON_INSUFFICIENT_CPU);
  if (want.memoryBytes > 0 && info.requested.memoryBytes + want.memoryBytes > info.allocatable.memoryBytes) {
    reasons.push(REASON_INSUFFICIENT_MEMORY);
  }
  return reasons;
}

export type Filter = (pod: Pod, info: NodeInfo) => string[];

/** In order; a node is reported with the reasons of the first filter that fails. */
export const FILTERS: readonly Filter[] = [filterReady, filterUnschedulable, filterTaints, filterNodeSelector, filterResources];

/** The reasons `pod` cannot go on the node (empty if it can). */
export function unfitReasons(pod: Pod, info: NodeInfo, filters: readonly Filter[] = FILTERS): string[] {
  for (const filter of filters) {
    const reasons = filter(pod, info);
    if (reasons.length > 0) return reasons;
  }
  return [];
}
