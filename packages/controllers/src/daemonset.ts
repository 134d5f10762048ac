/**
 * The DaemonSet controller: one pod per eligible node, bound at creation
 * (`spec.nodeName` set, the scheduler is not involved), as Kubernetes did
 * before 1.12 and as k3s users still picture it.
 *
 * A node is eligible (Kubernetes' nodeShouldRunDaemonPod) when its labels
 * match the template's nodeSelector and the pod tolerates its NoSchedule and
 * NoExecute taints. Daemon pods get Kubernetes' automatic tolerations
 * (not-ready and unreachable NoExecute; memory/disk/pid pressure and
 * unschedulable NoSchedule), so a NotReady or cordoned node keeps its daemon
 * pod. An untolerated NoSchedule taint stops new pods but lets a running one
 * stay; an untolerated NoExecute taint removes it.
 *
 * Pods on nodes that no longer qualify or no longer exist are deleted; a
 * Failed daemon pod is deleted (and recreated next pass); of several on one
 * node the oldest stays. With updateStrategy RollingUpdate, pods of an older
 * template are replaced at most maxUnavailable nodes at a time.
 */
import { deepClone, deepEqual, ownerReferenceTo, podTemplateHash, randomSuffix, scaledValue } from '@bramble/api';
import type { DaemonSet, DaemonSetStatus, Node, Pod, Toleration } from '@bramble/api';
import { isAlreadyExists, NotLeaderError, type ControllerClient } from './client.js';
import { Reasons } from './reasons.js';
import {
  findUntoleratedTaint,
  TAINT_NODE_DISK_PRESSURE,
  TAINT_NODE_MEMORY_PRESSURE,
  TAINT_NODE_NOT_READY,
  TAINT_NODE_PID_PRESSURE,
  TAINT_NODE_UNREACHABLE,
  TAINT_NODE_UNSCHEDULABLE,
} from './taints.js';
import { claim } from './util/claim.js';
import { DEFAULT_MAX_IN_FLIGHT, forEachBounded, slowStartBatch } from './util/concurrency.js';
import { EventRecorder } from './util/events.js';
import { byCreation, isBeingDeleted, isPodAvailable, isPodReady, isPodTerminated, podKey } from './util/pods.js';
import { ControllerReport } from './util/report.js';

export const DAEMONSET_COMPONENT = 'daemonset-controller';
/** Label with the hash of the template a daemon pod was made from. */
export const CONTROLLER_REVISION_HASH_LABEL = 'controller-revision-hash';
const MAX_NAME_ATTEMPTS = 5;

/** Tolerations Kubernetes adds to every daemon pod. */
export const DAEMON_POD_TOLERATIONS: readonly Toleration[] = Object.freeze([
  { key: TAINT_NODE_NOT_READY, operator: 'Exists', effect: 'NoExecute' },
  { key: TAINT_NODE_UNREACHABLE, operator: 'Exists', effect: 'NoExecute' },
  { key: TAINT_NODE_DISK_PRESSURE, operator: 'Exists', effect: 'NoSchedule' },
  { key: TAINT_NODE_MEMORY_PRESSURE, operator: 'Exists', effect: 'NoSchedule' },
  { key: TAINT_NODE_PID_PRESSURE, operator: 'Exists', effect: 'NoSchedule' },
  { key: TAINT_NODE_UNSCHEDULABLE, operator: 'Exists', effect: 'NoSchedule' },
] satisfies Toleration[]);

/** The template's tolerations plus the automatic ones it does not already have. */
export function daemonPodTolerations(tolerations: readonly Toleration[] | undefined): Toleration[] {
  const out = [...(tolerations ?? [])].map((t) => ({ ...t }));
  for (const auto of DAEMON_POD_TOLERATIONS) {
    if (!out.some((t) => t.key === auto.key && t.effect === auto.effect)) out.push({ ...auto });
  }
  return out;
}

export interface NodeDecision {
  /** A daemon pod should be started here. */
  shouldRun: boolean;
  /** A daemon pod already here may stay. */
  shouldContinueRunning: boolean;
}

export function nodeShouldRunDaemonPod(node: Node, ds: DaemonSet): NodeDecision {
  const labels = node.metadata.labels ?? {};
  const selectorOk = Object.entries(ds.spec.template.spec.nodeSelector ?? {}).every(([k, v]) => labels[k] === v);
  if (!selectorOk) return { shouldRun: false, shouldContinueRunning: false };
  const tolerations = daemonPodTolerations(ds.spec.template.spec.tolerations);
  const taints = node.spec?.taints ?? [];
  if (findUntoleratedTaint(taints, tolerations, ['NoExecute'])) return { shouldRun: false, shouldContinueRunning: false };
  if (findUntoleratedTaint(taints, tolerations, ['NoSchedule'])) return { shouldRun: false, shouldContinueRunning: true };
  return { shouldRun: true, shouldContinueRunning: true };
}

export function daemonTemplateHash(ds: DaemonSet): string {
  return podTemplateHash(ds.spec.template);
}

export interface DaemonSetPlan {
  /** Node names that need a daemon pod. */
  createOn: string[];
  /** Pods to delete, with why. */
  delete: Array<{ pod: Pod; reason: string }>;
  status: DaemonSetStatus;
}

/**
 * The decision for one DaemonSet, from the nodes and the pods it owns.
 * `status` describes the pods as they are now (before the plan runs).
 */
export function planDaemonSet(ds: DaemonSet, nodes: readonly Node[], owned: readonly Pod[], nowMs: number): DaemonSetPlan {
  const hash = daemonTemplateHash(ds);
  const minReadySeconds = ds.spec.minReadySeconds ?? 0;
  const byNode = new Map<string, Pod[]>();
  const deletes: DaemonSetPlan['delete'] = [];
  for (const pod of owned) {
    if (isPodTerminated(pod) && pod.status?.phase !== 'Failed') continue;
    const name = pod.spec.nodeName ?? '';
    let list = byNode.get(name);
    if (!list) byNode.set(name, (list = []));
    list.push(pod);
  }
  const nodeNames = new Set(nodes.map((n) => n.metadata.name ?? ''));
  for (const [name, pods] of byNode) {
    if (nodeNames.has(name)) continue;
    for (const pod of pods) {
      if (!isBeingDeleted(pod)) deletes.push({ pod, reason: name === '' ? 'not bound to a node' : `node ${name} no longer exists` });
    }
  }

  const createOn: string[] = [];
  const status: DaemonSetStatus = { desiredNumberScheduled: 0, currentNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 };
  let available = 0;
  let updated = 0;
  /** Nodes whose (single, kept) pod is of an older template: candidates for a rolling update. */
  const outdated: Array<{ pod: Pod; available: boolean }> = [];
  let unavailable = 0;

  for (const node of [...nodes].sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1))) {
    const name = node.metadata.name ?? '';
    const { shouldRun, shouldContinueRunning } = nodeShouldRunDaemonPod(node, ds);
    const pods = (byNode.get(name) ?? []).slice().sort(byCreation);
    const live = pods.filter((p) => !isBeingDeleted(p));
    const running: Pod[] = [];
    if (shouldContinueRunning) {
      for (const pod of live) {
        if (pod.status?.phase === 'Failed') deletes.push({ pod, reason: `failed on node ${name}` });
        else running.push(pod);
      }
      for (const extra of running.slice(1)) deletes.push({ pod: extra, reason: `more than one daemon pod on node ${name}` });
    } else {
      for (const pod of live) deletes.push({ pod, reason: `node ${name} no longer qualifies` });
    }
    if (shouldRun && pods.length === 0) createOn.push(name);

    const kept = running[0];
    if (shouldRun) {
      status.desiredNumberScheduled++;
      if (pods.length > 0) status.currentNumberScheduled++;
      if (kept && isPodReady(kept)) status.numberReady++;
      const isAvailable = kept !== undefined && isPodAvailable(kept, minReadySeconds, nowMs);
      if (isAvailable) available++;
      else unavailable++;
      if (kept && kept.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL] === hash) updated++;
      else if (kept) outdated.push({ pod: kept, available: isAvailable });
    } else if (pods.length > 0) {
      status.numberMisscheduled++;
    }
  }

  if ((ds.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate' && outdated.length > 0) {
    const maxUnavailable = Math.max(1, scaledValue(ds.spec.updateStrategy?.rollingUpdate?.maxUnavailable ?? 1, status.desiredNumberScheduled, true));
    for (const { pod, available: isAvailable } of outdated) {
      if (!isAvailable) deletes.push({ pod, reason: 'outdated template (pod unavailable)' });
      else if (unavailable < maxUnavailable) {
        deletes.push({ pod, reason: 'outdated template' });
        unavailable++;
      }
    }
  }

  status.updatedNumberScheduled = updated;
  status.numberAvailable = available;
  status.numberUnavailable = status.desiredNumberScheduled - available;
  if (ds.metadata.generation !== undefined) status.observedGeneration = ds.metadata.generation;
  if (ds.status?.collisionCount !== undefined) status.collisionCount = ds.status.collisionCount;
  if (ds.status?.conditions !== undefined) status.conditions = ds.status.conditions;
  return { createOn, delete: deletes, status };
}

/** A daemon pod for `nodeName`, bound to it. */
export function daemonPod(ds: DaemonSet, name: string, nodeName: string): Pod {
  const template = deepClone(ds.spec.template);
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      generateName: `${ds.metadata.name}-`,
      namespace: ds.metadata.namespace,
      labels: { ...(template.metadata?.labels ?? {}), [CONTROLLER_REVISION_HASH_LABEL]: daemonTemplateHash(ds) },
      ownerReferences: [ownerReferenceTo(ds)],
    },
    spec: { ...template.spec, nodeName, tolerations: daemonPodTolerations(template.spec.tolerations) },
  };
  if (template.metadata?.annotations) pod.metadata.annotations = template.metadata.annotations;
  return pod;
}

export interface DaemonSetControllerOptions {
  random: () => number;
  component?: string;
}

export class DaemonSetController {
  private readonly component: string;

  constructor(
    private readonly client: ControllerClient,
    private readonly options: DaemonSetControllerOptions,
  ) {
    this.component = options.component ?? DAEMONSET_COMPONENT;
  }

  async runOnce(nowMs: number): Promise<ControllerReport> {
    const report = new ControllerReport('daemonset');
    const sets = await this.client.list('DaemonSet');
    if (sets.length === 0) return report;
    const nodes = await this.client.list('Node');
    const pods = await this.client.list('Pod');
    for (const ds of sets) {
      const ns = ds.metadata.namespace ?? 'default';
      await report.guard(podKey(ds), () =>
        this.reconcile(ds, nodes, pods.filter((p) => (p.metadata.namespace ?? 'default') === ns), nowMs, report),
      );
    }
    return report;
  }

  async reconcile(ds: DaemonSet, nodes: readonly Node[], podsInNamespace: readonly Pod[], nowMs: number, report: ControllerReport): Promise<void> {
    const recorder = new EventRecorder(this.client, this.component, nowMs);
    const { owned, adopt, release } = claim(ds, ds.spec.selector, podsInNamespace);
    for (const pod of release) {
      const copy = deepClone(pod);
      copy.metadata.ownerReferences = (copy.metadata.ownerReferences ?? []).filter((r) => r.uid !== ds.metadata.uid);
      await this.client.update(copy);
      report.action(`release pod ${podKey(pod)}`);
    }
    const adopted = new Map<string | undefined, Pod>();
    for (const pod of adopt) {
      const copy = deepClone(pod);
      copy.metadata.ownerReferences = [...(copy.metadata.ownerReferences ?? []), ownerReferenceTo(ds)];
      adopted.set(pod.metadata.uid, await this.client.update(copy));
      report.action(`adopt pod ${podKey(pod)}`);
    }
    const pods = owned.map((p) => adopted.get(p.metadata.uid) ?? p);
    const plan = planDaemonSet(ds, nodes, pods, nowMs);
    let after = pods;
    if (!isBeingDeleted(ds)) {
      await forEachBounded(plan.delete, DEFAULT_MAX_IN_FLIGHT, async ({ pod, reason }) => {
        await this.client.delete('Pod', pod.metadata.namespace, pod.metadata.name ?? '', { preconditions: { uid: pod.metadata.uid } });
        after = after.filter((p) => p.metadata.uid !== pod.metadata.uid);
        report.action(`delete pod ${podKey(pod)}: ${reason}`);
        await recorder.normal(ds, Reasons.SuccessfulDelete, `Deleted pod: ${pod.metadata.name}`);
      });
      // One pod per node, created in slow-start batches; the first failing batch stops the rest.
      const creates = await slowStartBatch(plan.createOn.length, async (i) => {
        const nodeName = plan.createOn[i];
        const created = await this.createPod(ds, nodeName, recorder);
        after = [...after, created];
        report.action(`create pod ${podKey(created)} on ${nodeName}`);
      });
      if (creates.errors.length > 0) throw creates.errors[0];
    }
    // Status as of after this pass's writes, so a second pass right after finds nothing to change.
    const status = planDaemonSet(ds, nodes, after, nowMs).status;
    if (!deepEqual(ds.status, status)) await this.client.updateStatus({ ...ds, status });
  }

  private async createPod(ds: DaemonSet, nodeName: string, recorder: EventRecorder): Promise<Pod> {
    for (let attempt = 1; ; attempt++) {
      const name = `${ds.metadata.name}-${randomSuffix(this.options.random)}`;
      try {
        const created = await this.client.create(daemonPod(ds, name, nodeName));
        await recorder.normal(ds, Reasons.SuccessfulCreate, `Created pod: ${name}`);
        return created;
      } catch (error) {
        if (error instanceof NotLeaderError) throw error;
        if (isAlreadyExists(error) && attempt < MAX_NAME_ATTEMPTS) continue;
        if (!isAlreadyExists(error)) {
          const message = error instanceof Error ? error.message : String(error);
          await recorder.warning(ds, Reasons.FailedCreate, `Error creating: ${message}`);
        }
        throw error;
      }
    }
  }
}
