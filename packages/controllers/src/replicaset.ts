/**
 * The ReplicaSet controller: keeps `spec.replicas` active pods for each
 * ReplicaSet. The decision (`planReplicaSet`) is a pure function of the
 * ReplicaSet, the pods of its namespace and the time; `ReplicaSetController`
 * carries it out against a client.
 *
 * Rules, as in Kubernetes:
 * - A pod belongs to the ReplicaSet whose uid its controller ownerReference
 *   names. Owned pods that stop matching the selector are released (the
 *   reference removed); orphans that match are adopted.
 * - Active = not terminated (Succeeded/Failed) and not being deleted.
 * - Missing pods are created from the template (`<rs>-<5 random chars>`),
 *   excess ones deleted in Kubernetes' order: unscheduled, pending, not
 *   ready, on nodes with more of this set's pods, ready for less time, more
 *   restarts, newest.
 * - Status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas
 *   (ready for minReadySeconds), observedGeneration; written only on change.
 */
import { deepClone, deepEqual, ownerReferenceTo, randomSuffix } from '@bramble/api';
import type { Pod, ReplicaSet, ReplicaSetStatus } from '@bramble/api';
import { isAlreadyExists, NotLeaderError, type ControllerClient } from './client.js';
import { Reasons } from './reasons.js';
import { EventRecorder } from './util/events.js';
import {
  isBeingDeleted,
  isPodActive,
  isPodAvailable,
  isPodReady,
  podKey,
  podReadySinceMs,
  restartCount,
} from './util/pods.js';
import { claim } from './util/claim.js';
import { DEFAULT_MAX_IN_FLIGHT, forEachBounded, slowStartBatch } from './util/concurrency.js';
import { ControllerReport } from './util/report.js';
import { parseTime } from './util/time.js';

export const REPLICASET_COMPONENT = 'replicaset-controller';
/** At most this many pods are created (or deleted) for one ReplicaSet in one pass (Kubernetes' burstReplicas). */
export const DEFAULT_BURST_REPLICAS = 500;
const MAX_NAME_ATTEMPTS = 5;

export interface ReplicaSetPlan {
  /** Orphans matching the selector, to be adopted (controller ownerReference added). */
  adopt: Pod[];
  /** Owned pods that no longer match the selector, to be released. */
  release: Pod[];
  /** How many pods to create. */
  create: number;
  /** Pods to delete, in deletion order. */
  delete: Pod[];
  /** Active pods after adoption (before creates and deletes). */
  active: Pod[];
}

function compare(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const PHASE_ORDER: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/**
 * Kubernetes' ActivePodsWithRanks ordering: negative when `a` should be
 * deleted before `b`. `rank` is how many of the set's active pods share the
 * pod's node.
 */
export function deletionOrder(a: Pod, b: Pod, rankA: number, rankB: number): number {
  const na = a.spec.nodeName ?? '';
  const nb = b.spec.nodeName ?? '';
  if (na !== nb && (na === '' || nb === '')) return na === '' ? -1 : 1;
  const pa = PHASE_ORDER[a.status?.phase ?? 'Pending'] ?? 0;
  const pb = PHASE_ORDER[b.status?.phase ?? 'Pending'] ?? 0;
  if (pa !== pb) return compare(pa, pb);
  const ra = isPodReady(a);
  const rb = isPodReady(b);
  if (ra !== rb) return ra ? 1 : -1;
  if (rankA !== rankB) return compare(rankB, rankA);
  if (ra && rb) {
    const sa = podReadySinceMs(a);
    const sb = podReadySinceMs(b);
    if (sa !== sb) {
      if (sa === undefined) return -1;
      if (sb === undefined) return 1;
      return compare(sb, sa); // ready more recently (for less time) goes first
    }
  }
  const ca = restartCount(a);
  const cb = restartCount(b);
  if (ca !== cb) return compare(cb, ca);
  const ta = parseTime(a.metadata.creationTimestamp);
  const tb = parseTime(b.metadata.creationTimestamp);
  if (ta !== tb) {
    if (ta === undefined) return -1;
    if (tb === undefined) return 1;
    return compare(tb, ta); // newer first
  }
  const ka = podKey(a);
  const kb = podKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0; // deterministic
}

/** The `count` pods of `active` to delete first. */
export function podsToDelete(active: readonly Pod[], count: number): Pod[] {
  if (count <= 0) return [];
  const perNode = new Map<string, number>();
  for (const pod of active) {
    const node = pod.spec.nodeName ?? '';
    perNode.set(node, (perNode.get(node) ?? 0) + 1);
  }
  const rank = (pod: Pod) => (pod.spec.nodeName ? (perNode.get(pod.spec.nodeName) ?? 0) : 0);
  return [...active].sort((a, b) => deletionOrder(a, b, rank(a), rank(b))).slice(0, count);
}

export function planReplicaSet(rs: ReplicaSet, podsInNamespace: readonly Pod[], burst = DEFAULT_BURST_REPLICAS): ReplicaSetPlan {
  const { owned, adopt, release } = claim(rs, rs.spec.selector, podsInNamespace);
  const deleting = isBeingDeleted(rs);
  const active = owned.filter(isPodActive);
  const want = rs.spec.replicas ?? 1;
  const diff = active.length - want;
  if (deleting) return { adopt, release, create: 0, delete: [], active };
  return {
    adopt,
    release,
    create: diff < 0 ? Math.min(-diff, burst) : 0,
    delete: diff > 0 ? podsToDelete(active, Math.min(diff, burst)) : [],
    active,
  };
}

/** Kubernetes' calculateStatus over the set's active pods. */
export function replicaSetStatus(rs: ReplicaSet, active: readonly Pod[], nowMs: number): ReplicaSetStatus {
  const templateLabels = rs.spec.template.metadata?.labels ?? {};
  const minReadySeconds = rs.spec.minReadySeconds ?? 0;
  const status: ReplicaSetStatus = {
    replicas: active.length,
    fullyLabeledReplicas: active.filter((p) => Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v)).length,
    readyReplicas: active.filter(isPodReady).length,
    availableReplicas: active.filter((p) => isPodAvailable(p, minReadySeconds, nowMs)).length,
  };
  if (rs.metadata.generation !== undefined) status.observedGeneration = rs.metadata.generation;
  if (rs.status?.conditions !== undefined) status.conditions = rs.status.conditions;
  return status;
}

/** A pod stamped from the set's template, named `<rs>-<suffix>`, owned by the set. */
export function podFromTemplate(rs: ReplicaSet, name: string): Pod {
  const template = deepClone(rs.spec.template);
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      generateName: `${rs.metadata.name}-`,
      namespace: rs.metadata.namespace,
      labels: template.metadata?.labels ?? {},
      ownerReferences: [ownerReferenceTo(rs)],
    },
    spec: template.spec,
  };
  if (template.metadata?.annotations) pod.metadata.annotations = template.metadata.annotations;
  return pod;
}

export interface ReplicaSetControllerOptions {
  /** `() => [0, 1)`, for pod name suffixes. */
  random: () => number;
  component?: string;
  burstReplicas?: number;
  /** Pod creates or deletes in flight at once for one ReplicaSet (default 64). */
  maxInFlight?: number;
}

export class ReplicaSetController {
  private readonly component: string;
  private readonly maxInFlight: number;
  private readonly burst: number;
  /** ReplicaSets (by uid) whose last pass stopped at the burst with every create accepted: the batch size to resume at. */
  private readonly resumeBatch = new Map<string, number>();

  constructor(
    private readonly client: ControllerClient,
    private readonly options: ReplicaSetControllerOptions,
  ) {
    this.component = options.component ?? REPLICASET_COMPONENT;
    this.burst = options.burstReplicas ?? DEFAULT_BURST_REPLICAS;
    this.maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  }

  async runOnce(nowMs: number): Promise<ControllerReport> {
    const report = new ControllerReport('replicaset');
    const sets = await this.client.list('ReplicaSet');
    const pods = await this.client.list('Pod');
    const live = new Set(sets.map((rs) => rs.metadata.uid ?? ''));
    for (const uid of this.resumeBatch.keys()) if (!live.has(uid)) this.resumeBatch.delete(uid);
    const byNamespace = new Map<string, Pod[]>();
    for (const pod of pods) {
      const ns = pod.metadata.namespace ?? 'default';
      let list = byNamespace.get(ns);
      if (!list) byNamespace.set(ns, (list = []));
      list.push(pod);
    }
    for (const rs of sets) {
      await report.guard(podKey(rs), () => this.reconcile(rs, byNamespace.get(rs.metadata.namespace ?? 'default') ?? [], nowMs, report));
    }
    return report;
  }

  /** One ReplicaSet against the pods of its namespace. */
  async reconcile(rs: ReplicaSet, podsInNamespace: readonly Pod[], nowMs: number, report: ControllerReport): Promise<void> {
    const recorder = new EventRecorder(this.client, this.component, nowMs);
    const plan = planReplicaSet(rs, podsInNamespace, this.burst);
    const ns = rs.metadata.namespace ?? 'default';
    const active = new Map(plan.active.map((p) => [p.metadata.uid, p]));

    for (const pod of plan.release) {
      const next = deepClone(pod);
      next.metadata.ownerReferences = (next.metadata.ownerReferences ?? []).filter((r) => r.uid !== rs.metadata.uid);
      await report.guard(podKey(pod), async () => {
        await this.client.update(next);
        report.action(`release pod ${podKey(pod)} from ${podKey(rs)}`);
      });
    }
    for (const pod of plan.adopt) {
      const next = deepClone(pod);
      next.metadata.ownerReferences = [...(next.metadata.ownerReferences ?? []), ownerReferenceTo(rs)];
      try {
        const adopted = await this.client.update(next);
        active.set(adopted.metadata.uid, adopted);
        report.action(`adopt pod ${podKey(pod)} into ${podKey(rs)}`);
      } catch (error) {
        active.delete(pod.metadata.uid); // not ours after all; the next pass decides again
        throw error;
      }
    }
    // Creates go in slow-start batches (1, 2, 4, ... as in Kubernetes, with no cap but the pass's burst:
    // every batch waits for its slowest write, so small batches would stall a large scale-up); the first
    // failing batch stops them.
    // A pass that had to stop at burstReplicas resumes, in the next pass, at the batch size
    // it had reached (not at 1 again): its creates were all accepted.
    const uid = rs.metadata.uid ?? '';
    const creates = await slowStartBatch(
      plan.create,
      async () => {
        const created = await this.createPod(rs, recorder);
        active.set(created.metadata.uid, created);
        report.action(`create pod ${podKey(created)}`);
      },
      { maxBatch: Math.max(plan.create, 1), initialBatch: this.resumeBatch.get(uid) ?? 1 },
    );
    this.resumeBatch.delete(uid);
    if (creates.errors.length === 0 && plan.create >= this.burst) this.resumeBatch.set(uid, creates.nextBatch);
    await recorder.settle(); // the SuccessfulCreate events of the pods just created
    if (creates.errors.length > 0) throw creates.errors[0];
    await forEachBounded(plan.delete, this.maxInFlight, async (pod) => {
      await this.client.delete('Pod', ns, pod.metadata.name ?? '', { preconditions: { uid: pod.metadata.uid } });
      active.delete(pod.metadata.uid);
      report.action(`delete pod ${podKey(pod)}`);
      recorder.defer(rs, 'Normal', Reasons.SuccessfulDelete, `Deleted pod: ${pod.metadata.name}`);
    });
    await recorder.settle();

    const status = replicaSetStatus(rs, [...active.values()], nowMs);
    if (!deepEqual(rs.status, status)) await this.client.updateStatus({ ...rs, status });
  }

  private async createPod(rs: ReplicaSet, recorder: EventRecorder): Promise<Pod> {
    for (let attempt = 1; ; attempt++) {
      const name = `${rs.metadata.name}-${randomSuffix(this.options.random)}`;
      try {
        const created = await this.client.create(podFromTemplate(rs, name));
        recorder.defer(rs, 'Normal', Reasons.SuccessfulCreate, `Created pod: ${name}`);
        return created;
      } catch (error) {
        if (error instanceof NotLeaderError) throw error;
        if (!isAlreadyExists(error) || attempt >= MAX_NAME_ATTEMPTS) {
          if (!isAlreadyExists(error)) {
            const message = error instanceof Error ? error.message : String(error);
            await recorder.warning(rs, Reasons.FailedCreate, `Error creating: ${message}`);
          }
          throw error;
        }
      }
    }
  }
}
