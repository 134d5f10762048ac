/**
 * Scores: among feasible nodes, which is best? Integers 0-100 per plugin,
 * weighted and summed, as in Kubernetes. Ties go to the node whose name sorts
 * first, so the choice is a pure function of the input.
 */
import type { Pod } from '@bramble/api';
import { controllerUid, isPodActive } from '../util/pods.js';
import { cachedRequests, type NodeInfo } from './filters.js';

export const MAX_NODE_SCORE = 100;

export interface ScoreWeights {
  leastAllocated: number;
  spread: number;
}

/** Kubernetes' defaults: NodeResourcesFit 1, PodTopologySpread 2. */
export const DEFAULT_WEIGHTS: ScoreWeights = { leastAllocated: 1, spread: 2 };

export interface NodeScore {
  node: string;
  /** 0-100: the free fraction of cpu and memory after placing the pod, averaged. */
  leastAllocated: number;
  /** 0-100: 100 on the nodes with the fewest pods of the pod's owner. */
  spread: number;
  /** Weighted sum. */
  total: number;
}

function freeFraction(requested: number, allocatable: number): number {
  if (allocatable <= 0 || requested > allocatable) return 0;
  return Math.floor(((allocatable - requested) * MAX_NODE_SCORE) / allocatable);
}

/** NodeResourcesLeastAllocated: prefer emptier nodes (non-zero request defaults, including the pod itself). */
export function leastAllocatedScore(pod: Pod, info: NodeInfo): number {
  const want = cachedRequests(pod).nonZero;
  const cpu = freeFraction(info.nonZeroRequested.cpuMillis + want.cpuMillis, info.allocatable.cpuMillis);
  const memory = freeFraction(info.nonZeroRequested.memoryBytes + want.memoryBytes, info.allocatable.memoryBytes);
  return Math.floor((cpu + memory) / 2);
}

/** Active pods on the node with the same controller (ownerReference uid) as `pod`. */
export function siblingsOnNode(pod: Pod, info: NodeInfo): number {
  const owner = controllerUid(pod);
  if (owner === undefined) return 0;
  if (!info.ownerCounts) {
    info.ownerCounts = new Map();
    for (const p of info.pods) {
      const uid = controllerUid(p);
      if (uid !== undefined && isPodActive(p)) info.ownerCounts.set(uid, (info.ownerCounts.get(uid) ?? 0) + 1);
    }
  }
  return info.ownerCounts.get(owner) ?? 0;
}

/**
 * Spreading (SelectorSpread, keyed by the controller's uid): 100 * (max - count) / max
 * over the feasible nodes, so the nodes with fewest siblings score highest.
 */
export function spreadScores(pod: Pod, infos: readonly NodeInfo[]): number[] {
  const counts = infos.map((info) => siblingsOnNode(pod, info));
  const max = Math.max(0, ...counts);
  return counts.map((count) => (max === 0 ? MAX_NODE_SCORE : Math.floor((MAX_NODE_SCORE * (max - count)) / max)));
}

/** Scores of the feasible nodes, best first (ties by node name). */
export function scoreNodes(pod: Pod, feasible: readonly NodeInfo[], weights: ScoreWeights = DEFAULT_WEIGHTS): NodeScore[] {
  const spread = spreadScores(pod, feasible);
  const scores = feasible.map((info, i) => {
    const leastAllocated = leastAllocatedScore(pod, info);
    return { node: info.name, leastAllocated, spread: spread[i], total: leastAllocated * weights.leastAllocated + spread[i] * weights.spread };
  });
  return scores.sort((a, b) => b.total - a.total || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}
