/**
 * `schedule`: the scheduler's decision as a pure function from a pod, the
 * nodes and the pods already on them to a node (or none) and the reasons,
 * like Nomad's scheduler or Kubernetes' scheduling cycle without plugins.
 */
import type { Node, Pod } from '@bramble/api';
import { FILTERS, nodeInfo, unfitReasons, type Filter, type NodeInfo } from './filters.js';
import { DEFAULT_WEIGHTS, scoreNodes, type NodeScore, type ScoreWeights } from './scoring.js';

export const NO_NODES_MESSAGE = 'no nodes available to schedule pods';

export interface ScheduleOptions {
  weights?: ScoreWeights;
  filters?: readonly Filter[];
}

export interface ScheduleResult {
  /** The chosen node; absent when no node is feasible. */
  node?: string;
  /**
   * Why nodes were filtered out, as Kubernetes' histogram: `"2 Insufficient cpu"`,
   * sorted. (Empty when every node was feasible.)
   */
  reasons: string[];
  /** Per unfit node, its reasons. */
  unfit: Record<string, string[]>;
  /** Feasible nodes with their scores, best first. */
  scores: NodeScore[];
  /** The FailedScheduling message when no node fits: `0/3 nodes are available: 1 ..., 2 Insufficient cpu.` */
  message?: string;
}

/** Pods grouped by `spec.nodeName` (unbound pods are left out). */
export function podsByNode(pods: Iterable<Pod>): Map<string, Pod[]> {
  const out = new Map<string, Pod[]>();
  for (const pod of pods) {
    const name = pod.spec.nodeName;
    if (!name) continue;
    let list = out.get(name);
    if (!list) out.set(name, (list = []));
    list.push(pod);
  }
  return out;
}

/** `["1 node(s) were unschedulable", "2 Insufficient cpu"]` from the per-node reasons. */
export function reasonHistogram(unfit: Readonly<Record<string, readonly string[]>>): string[] {
  const counts = new Map<string, number>();
  for (const reasons of Object.values(unfit)) {
    for (const reason of reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return [...counts].map(([reason, count]) => `${count} ${reason}`).sort();
}

/** Kubernetes' FitError message. */
export function failedSchedulingMessage(nodeCount: number, reasons: readonly string[]): string {
  if (nodeCount === 0) return NO_NODES_MESSAGE;
  return `0/${nodeCount} nodes are available${reasons.length > 0 ? `: ${reasons.join(', ')}` : ''}.`;
}

export function schedule(
  pod: Pod,
  nodes: readonly Node[],
  podsOnNodes: ReadonlyMap<string, readonly Pod[]>,
  options: ScheduleOptions = {},
): ScheduleResult {
  return scheduleOnInfos(pod, nodeInfos(nodes, podsOnNodes), options);
}

/** A NodeInfo per node, sorted by node name (the order `scheduleOnInfos` expects). */
export function nodeInfos(nodes: readonly Node[], podsOnNodes: ReadonlyMap<string, readonly Pod[]>): NodeInfo[] {
  const sorted = [...nodes].sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
  return sorted.map((node) => nodeInfo(node, podsOnNodes.get(node.metadata.name ?? '') ?? []));
}

/**
 * `schedule` over NodeInfos built once (sorted by name): the scheduler loop keeps them
 * for a whole pass and counts each placement in (`assumePod`), instead of rebuilding
 * every node's view for every pod.
 */
export function scheduleOnInfos(pod: Pod, infos: readonly NodeInfo[], options: ScheduleOptions = {}): ScheduleResult {
  const feasible: NodeInfo[] = [];
  const unfit: Record<string, string[]> = {};
  for (const info of infos) {
    const reasons = unfitReasons(pod, info, options.filters ?? FILTERS);
    if (reasons.length === 0) feasible.push(info);
    else unfit[info.name] = reasons;
  }
  const reasons = reasonHistogram(unfit);
  const scores = scoreNodes(pod, feasible, options.weights ?? DEFAULT_WEIGHTS);
  if (scores.length === 0) return { reasons, unfit, scores, message: failedSchedulingMessage(infos.length, reasons) };
  return { node: scores[0].node, reasons, unfit, scores };
}
