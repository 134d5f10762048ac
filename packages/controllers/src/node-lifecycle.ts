/**
 * The node lifecycle controller. Agents heartbeat to the leader, which keeps
 * the last time it heard from each node in memory (`heartbeats`); only
 * Ready <-> NotReady transitions are written:
 *
 * - A node not heard from for `nodeGraceMs` (4 s) gets Ready=Unknown
 *   (NodeStatusUnknown), the `node.kubernetes.io/unreachable:NoExecute`
 *   taint and a NodeNotReady event.
 * - `podEvictionTimeoutMs` (5 s) later its pods are deleted (at once: the
 *   agent cannot confirm), so their ReplicaSets recreate them elsewhere. A
 *   pod that tolerates the taint stays (daemon pods), or goes after its
 *   `tolerationSeconds`.
 * - A node heard from again gets Ready=True (KubeletReady), loses the taint,
 *   and a NodeReady event.
 * - A new leader knows no heartbeats: `onBecameLeader(now)` forgets
 *   everything and every node gets a fresh grace period (and a fresh
 *   eviction timeout if already NotReady), so a leader change evicts nobody.
 * - If every node is NotReady, nothing is evicted (Kubernetes' full
 *   disruption rule: the problem is more likely the leader's view than all nodes).
 * - Pods bound to a node that no longer exists are force-deleted after
 *   `podEvictionTimeoutMs` (Kubernetes' pod GC).
 */
import { deepClone } from '@bramble/api';
import type { Node, NodeCondition, Pod, Taint, Toleration } from '@bramble/api';
import type { ControllerClient } from './client.js';
import { Reasons } from './reasons.js';
import { TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE, tolerationsFor } from './taints.js';
import { getCondition, setCondition } from './util/conditions.js';
import { EventRecorder } from './util/events.js';
import { isBeingDeleted, isPodTerminated, podKey } from './util/pods.js';
import { ControllerReport } from './util/report.js';
import { isoTime } from './util/time.js';

export const NODE_LIFECYCLE_COMPONENT = 'node-controller';
export const DEFAULT_NODE_GRACE_MS = 4000;
export const DEFAULT_POD_EVICTION_TIMEOUT_MS = 5000;

export interface NodeLifecycleOptions {
  /** When the leader last heard from a node (ms), or undefined if it has not since it became leader. */
  heartbeats: (nodeName: string) => number | undefined;
  nodeGraceMs?: number;
  podEvictionTimeoutMs?: number;
  /** Put the not-ready / unreachable NoExecute taints on NotReady nodes (default true). */
  taintNodes?: boolean;
  component?: string;
}

/** What the controller remembers about a node during one leadership. */
export interface NodeHealth {
  /** When this leader first saw the node: the grace period counts from here until a heartbeat arrives. */
  firstSeenMs: number;
  /** When the node's readiness last changed as this leader sees it (eviction counts from here). */
  readyTransitionMs: number;
}

export type ReadyDecision = 'MarkReady' | 'MarkNotReady' | 'Keep';

/**
 * Ready needs a heartbeat within the grace period; NotReady needs silence for
 * the whole grace period counted from the later of the last heartbeat and
 * the leader's first sight of the node.
 */
export function readyDecision(
  readyStatus: NodeCondition['status'] | undefined,
  lastHeardMs: number | undefined,
  health: NodeHealth,
  nowMs: number,
  graceMs: number,
): ReadyDecision {
  const fresh = lastHeardMs !== undefined && nowMs - lastHeardMs <= graceMs;
  if (fresh) return readyStatus === 'True' ? 'Keep' : 'MarkReady';
  const silentSince = Math.max(lastHeardMs ?? -Infinity, health.firstSeenMs);
  if (nowMs - silentSince > graceMs && readyStatus !== 'Unknown') return 'MarkNotReady';
  return 'Keep';
}

/** The NoExecute taint for a readiness status (Unknown: unreachable; False: not-ready). */
export function notReadyTaintKey(readyStatus: NodeCondition['status'] | undefined): string {
  return readyStatus === 'False' ? TAINT_NODE_NOT_READY : TAINT_NODE_UNREACHABLE;
}

/**
 * When a pod on a NotReady node is evicted: `podEvictionTimeoutMs` after the
 * transition, or its tolerationSeconds for the taint; never if it tolerates
 * the taint without a time limit.
 */
export function evictionTimeMs(pod: Pod, taintKey: string, notReadySinceMs: number, podEvictionTimeoutMs: number): number | undefined {
  const taint: Taint = { key: taintKey, effect: 'NoExecute' };
  const tolerations: Toleration[] = tolerationsFor(pod.spec.tolerations, taint);
  if (tolerations.length === 0) return notReadySinceMs + podEvictionTimeoutMs;
  if (tolerations.some((t) => t.tolerationSeconds === undefined)) return undefined;
  const seconds = Math.min(...tolerations.map((t) => Math.max(0, t.tolerationSeconds ?? 0)));
  return notReadySinceMs + seconds * 1000;
}

export class NodeLifecycleController {
  private readonly health = new Map<string, NodeHealth>();
  /** Pods bound to a node that does not exist, by uid: when this leader first saw them so. */
  private readonly orphanSince = new Map<string, number>();
  private readonly graceMs: number;
  private readonly evictionMs: number;
  private readonly component: string;

  constructor(
    private readonly client: ControllerClient,
    private readonly options: NodeLifecycleOptions,
  ) {
    this.graceMs = options.nodeGraceMs ?? DEFAULT_NODE_GRACE_MS;
    this.evictionMs = options.podEvictionTimeoutMs ?? DEFAULT_POD_EVICTION_TIMEOUT_MS;
    this.component = options.component ?? NODE_LIFECYCLE_COMPONENT;
  }

  /** Forget every node: each gets a fresh grace period (and eviction timeout) from its first sight after now. */
  onBecameLeader(_nowMs: number): void {
    this.health.clear();
    this.orphanSince.clear();
  }

  /** What this leader remembers of a node (for tests and status pages). */
  nodeHealth(name: string): NodeHealth | undefined {
    const h = this.health.get(name);
    return h ? { ...h } : undefined;
  }

  async runOnce(nowMs: number): Promise<ControllerReport> {
    const report = new ControllerReport('node-lifecycle');
    const recorder = new EventRecorder(this.client, this.component, nowMs);
    const nodes = await this.client.list('Node');
    const names = new Set(nodes.map((n) => n.metadata.name ?? ''));
    for (const name of this.health.keys()) if (!names.has(name)) this.health.delete(name);

    const after: Node[] = [];
    for (const node of nodes) {
      const name = node.metadata.name ?? '';
      let health = this.health.get(name);
      if (!health) this.health.set(name, (health = { firstSeenMs: nowMs, readyTransitionMs: nowMs }));
      let current = node;
      await report.guard(name, async () => {
        current = await this.updateReadiness(node, health, nowMs, recorder, report);
      });
      after.push(current);
    }

    const allPods = await this.client.list('Pod');
    await this.collectOrphanedPods(allPods, names, nowMs, report);

    const notReady = after.filter((n) => getCondition(n.status?.conditions, 'Ready')?.status !== 'True');
    if (notReady.length === 0) return report;
    if (notReady.length === after.length) {
      report.action(`all ${after.length} node(s) are NotReady: no evictions (full disruption)`);
      return report;
    }
    for (const node of notReady) {
      const name = node.metadata.name ?? '';
      const health = this.health.get(name);
      if (!health) continue;
      const taintKey = notReadyTaintKey(getCondition(node.status?.conditions, 'Ready')?.status);
      for (const pod of allPods.filter((p) => p.spec.nodeName === name)) {
        if (isBeingDeleted(pod) || isPodTerminated(pod)) continue;
        const at = evictionTimeMs(pod, taintKey, health.readyTransitionMs, this.evictionMs);
        if (at === undefined || nowMs < at) continue;
        await report.guard(podKey(pod), async () => {
          await this.forceDelete(pod);
          report.action(`evict pod ${podKey(pod)} from ${name}`);
          await recorder.normal(pod, Reasons.NodeControllerEviction, `Marking for deletion Pod ${podKey(pod)} from Node ${name}`);
        });
      }
    }
    return report;
  }

  /**
   * Pods bound to a node that does not exist (deleted from the API) can never
   * run or be confirmed stopped: they are force-deleted once they have been
   * seen orphaned for `podEvictionTimeoutMs` (Kubernetes' pod GC), so a node
   * registered just after this pass listed nodes is not mistaken for a missing one.
   */
  private async collectOrphanedPods(pods: readonly Pod[], nodeNames: ReadonlySet<string>, nowMs: number, report: ControllerReport): Promise<void> {
    const orphans = pods.filter((p) => p.spec.nodeName && !nodeNames.has(p.spec.nodeName));
    const current = new Set(orphans.map((p) => p.metadata.uid ?? ''));
    for (const uid of this.orphanSince.keys()) if (!current.has(uid)) this.orphanSince.delete(uid);
    for (const pod of orphans) {
      const uid = pod.metadata.uid ?? '';
      const since = this.orphanSince.get(uid);
      if (since === undefined) {
        this.orphanSince.set(uid, nowMs);
        continue;
      }
      if (nowMs - since < this.evictionMs) continue;
      await report.guard(podKey(pod), async () => {
        await this.forceDelete(pod);
        this.orphanSince.delete(uid);
        report.action(`delete pod ${podKey(pod)}: its node ${pod.spec.nodeName} no longer exists`);
      });
    }
  }

  private forceDelete(pod: Pod): Promise<void> {
    return this.client.delete('Pod', pod.metadata.namespace, pod.metadata.name ?? '', { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
  }

  private async updateReadiness(node: Node, health: NodeHealth, nowMs: number, recorder: EventRecorder, report: ControllerReport): Promise<Node> {
    const name = node.metadata.name ?? '';
    const lastHeard = this.options.heartbeats(name);
    const ready = getCondition(node.status?.conditions, 'Ready');
    const decision = readyDecision(ready?.status, lastHeard, health, nowMs, this.graceMs);
    let current = node;
    if (decision !== 'Keep') {
      const becomingReady = decision === 'MarkReady';
      const condition: NodeCondition = becomingReady
        ? { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'agent is posting ready status', lastTransitionTime: isoTime(nowMs) }
        : { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: isoTime(nowMs) };
      if (lastHeard !== undefined) condition.lastHeartbeatTime = isoTime(lastHeard);
      const status = { ...(node.status ?? {}), conditions: setCondition(node.status?.conditions, condition) };
      current = await this.client.updateStatus({ ...node, status });
      health.readyTransitionMs = nowMs;
      report.action(`node ${name} ${becomingReady ? 'Ready' : 'NotReady'}`);
      const [reason, shown] = becomingReady ? [Reasons.NodeReady, 'NodeReady'] : [Reasons.NodeNotReady, 'NodeNotReady'];
      await recorder.normal(current, reason, `Node ${name} status is now: ${shown}`);
    }
    if (this.options.taintNodes ?? true) current = await this.syncTaints(current, nowMs);
    return current;
  }

  /** Level-triggered: the NoExecute taint matches the Ready condition (none when True). */
  private async syncTaints(node: Node, nowMs: number): Promise<Node> {
    const status = getCondition(node.status?.conditions, 'Ready')?.status;
    const existing = node.spec?.taints ?? [];
    const others = existing.filter((t) => t.key !== TAINT_NODE_NOT_READY && t.key !== TAINT_NODE_UNREACHABLE);
    const wantKey = status === 'True' || status === undefined ? undefined : notReadyTaintKey(status);
    const have = existing.filter((t) => t.key === TAINT_NODE_NOT_READY || t.key === TAINT_NODE_UNREACHABLE);
    const ok = wantKey === undefined ? have.length === 0 : have.length === 1 && have[0].key === wantKey && have[0].effect === 'NoExecute';
    if (ok) return node;
    const taints: Taint[] = wantKey === undefined ? others : [...others, { key: wantKey, effect: 'NoExecute', timeAdded: isoTime(nowMs) }];
    const copy = deepClone(node);
    copy.spec = { ...(copy.spec ?? {}), taints };
    if (taints.length === 0) delete copy.spec.taints;
    return this.client.update(copy);
  }
}
