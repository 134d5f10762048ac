/**
 * The Deployment controller: each Deployment owns ReplicaSets named
 * `<deployment>-<pod-template-hash>`; the one whose template is the
 * Deployment's is the new set, the others are old. It follows Kubernetes'
 * deployment controller step by step (pkg/controller/deployment):
 *
 * - deleting: status only. Paused, or `spec.replicas` changed (a set's
 *   desired-replicas annotation differs): scale only (`sync`).
 * - RollingUpdate: grow the new set up to replicas + maxSurge, then shrink
 *   old sets while at least replicas - maxUnavailable pods stay available
 *   (one kind of step per pass; the passes repeat until done).
 * - Recreate: scale old sets to 0, wait until none of their pods exist, then
 *   create/scale the new set to replicas.
 * - revisions: the new set gets max(old revisions) + 1 (also a reused old set
 *   on rollback); the Deployment carries the same annotation. The
 *   Deployment's own annotations (kubernetes.io/change-cause ...) are copied
 *   to its new set, so `rollout history` shows them and `rollout undo` can
 *   bring them back.
 * - progressDeadlineSeconds: the Progressing condition (NewReplicaSetCreated,
 *   FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable,
 *   ProgressDeadlineExceeded, DeploymentPaused/Resumed).
 * - revisionHistoryLimit: old sets beyond it, scaled to 0, are deleted once
 *   the rollout completes.
 *
 * The arithmetic lives in deployment-plan.ts (pure); this file reads and writes.
 */
import { deepClone, deepEqual, ownerReferenceTo, podTemplateHash, POD_TEMPLATE_HASH_LABEL } from '@bramble/api';
import type { Deployment, Pod, ReplicaSet } from '@bramble/api';
import { isAlreadyExists, type ControllerClient } from './client.js';
import {
  activeReplicaSets,
  calculateStatus,
  deploymentComplete,
  deploymentProgressing,
  deploymentReplicas,
  deploymentTimedOut,
  desiredReplicasAnnotation,
  findActiveOrLatest,
  findNewReplicaSet,
  FOUND_NEW_RS_REASON,
  hasProgressDeadline,
  isRollingUpdate,
  isSaturated,
  maxRevision,
  maxSurge,
  newCondition,
  newRSNewReplicas,
  NEW_RS_AVAILABLE_REASON,
  NEW_RS_CREATED_REASON,
  PAUSED_REASON,
  planOldReplicaSetsScaleDown,
  proportionalSizes,
  removeDeploymentCondition,
  replicaSetsToCleanUp,
  REVISION_ANNOTATION,
  revisionOf,
  rsReplicas,
  RESUMED_REASON,
  RS_UPDATED_REASON,
  setDeploymentCondition,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  statusesStale,
  templatesEqual,
  TIMED_OUT_REASON,
} from './deployment-plan.js';
import { Reasons } from './reasons.js';
import { getCondition } from './util/conditions.js';
import { EventRecorder } from './util/events.js';
import { claim } from './util/claim.js';
import { controllerUid, isBeingDeleted, isControlledBy, isPodTerminated, podKey } from './util/pods.js';
import { ControllerReport } from './util/report.js';

export const DEPLOYMENT_COMPONENT = 'deployment-controller';

export interface DeploymentControllerOptions {
  component?: string;
}

/** One Deployment's reconcile: the Deployment and its sets as they are after each write. */
class DeploymentSync {
  private readonly recorder: EventRecorder;

  constructor(
    private readonly client: ControllerClient,
    private d: Deployment,
    /** Sets owned by the Deployment (kept current after each write). */
    private sets: ReplicaSet[],
    /** Pods of the namespace (for Recreate: are old pods gone?). */
    private readonly pods: readonly Pod[],
    private readonly nowMs: number,
    private readonly report: ControllerReport,
    component: string,
  ) {
    this.recorder = new EventRecorder(client, component, nowMs);
  }

  async run(): Promise<void> {
    if (isBeingDeleted(this.d)) {
      const { newRS, oldSets } = await this.allSetsAndSyncRevision(false);
      return this.syncStatus([...oldSets, newRS], newRS);
    }
    await this.checkPausedConditions();
    if (this.d.spec.paused) return this.sync();
    if (await this.isScalingEvent()) return this.sync();
    return isRollingUpdate(this.d) ? this.rolloutRolling() : this.rolloutRecreate();
  }

  // ---- sets and revisions ----------------------------------------------------

  private replace(rs: ReplicaSet): void {
    this.sets = this.sets.map((s) => (s.metadata.uid === rs.metadata.uid ? rs : s));
    if (!this.sets.some((s) => s.metadata.uid === rs.metadata.uid)) this.sets.push(rs);
  }

  private async allSetsAndSyncRevision(create: boolean): Promise<{ newRS: ReplicaSet | undefined; oldSets: ReplicaSet[] }> {
    const existing = findNewReplicaSet(this.d, this.sets);
    const oldSets = this.sets.filter((rs) => rs !== existing);
    const newRS = await this.newReplicaSet(existing, oldSets, create);
    return { newRS, oldSets: this.sets.filter((rs) => oldSets.some((o) => o.metadata.uid === rs.metadata.uid)) };
  }

  private async newReplicaSet(existing: ReplicaSet | undefined, oldSets: ReplicaSet[], create: boolean): Promise<ReplicaSet | undefined> {
    const newRevision = maxRevision(oldSets) + 1;
    if (existing) {
      let rs = existing;
      const copy = deepClone(existing);
      const annotationsChanged = setNewReplicaSetAnnotations(this.d, copy, newRevision, false);
      const minReadyChanged = (copy.spec.minReadySeconds ?? 0) !== (this.d.spec.minReadySeconds ?? 0);
      if (annotationsChanged || minReadyChanged) {
        copy.spec.minReadySeconds = this.d.spec.minReadySeconds ?? 0;
        rs = await this.client.update(copy);
        this.replace(rs);
        if (revisionOf(rs) !== revisionOf(existing)) this.report.action(`revision ${revisionOf(rs)} for replicaset ${podKey(rs)}`);
      }
      await this.setDeploymentRevision(revisionOf(rs));
      if (hasProgressDeadline(this.d) && !getCondition(this.d.status?.conditions, 'Progressing')) {
        const status = deepClone(this.d.status ?? {});
        setDeploymentCondition(status, newCondition('Progressing', 'True', FOUND_NEW_RS_REASON, `Found new replica set "${rs.metadata.name}"`, this.nowMs));
        this.d = await this.client.updateStatus({ ...this.d, status });
      }
      return rs;
    }
    if (!create) return undefined;

    const hash = podTemplateHash(this.d.spec.template, this.d.status?.collisionCount);
    const template = deepClone(this.d.spec.template);
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash } };
    const selector = deepClone(this.d.spec.selector);
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
    const rs: ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${this.d.metadata.name}-${hash}`,
        namespace: this.d.metadata.namespace,
        labels: template.metadata.labels,
        ownerReferences: [ownerReferenceTo(this.d)],
      },
      spec: { replicas: 0, minReadySeconds: this.d.spec.minReadySeconds ?? 0, selector, template },
    };
    rs.spec.replicas = newRSNewReplicas(this.d, [...oldSets, rs], rs);
    setNewReplicaSetAnnotations(this.d, rs, newRevision, true);

    let created: ReplicaSet;
    try {
      created = await this.client.create(rs);
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      const clash = await this.client.get('ReplicaSet', rs.metadata.namespace, rs.metadata.name ?? '');
      if (clash && isControlledBy(clash, this.d) && templatesEqual(clash.spec.template, this.d.spec.template)) {
        this.replace(clash);
        return clash;
      }
      // A set of another template (or owner) has our name: hash again with a higher collisionCount.
      const status = { ...(this.d.status ?? {}), collisionCount: (this.d.status?.collisionCount ?? 0) + 1 };
      this.d = await this.client.updateStatus({ ...this.d, status });
      throw error;
    }
    this.replace(created);
    this.report.action(`create replicaset ${podKey(created)} (revision ${newRevision}, replicas ${rsReplicas(created)})`);
    if (rsReplicas(created) > 0) {
      await this.recorder.normal(this.d, Reasons.ScalingReplicaSet, `Scaled up replica set ${created.metadata.name} to ${rsReplicas(created)}`);
    }
    await this.setDeploymentRevision(newRevision);
    if (hasProgressDeadline(this.d)) {
      const status = deepClone(this.d.status ?? {});
      setDeploymentCondition(status, newCondition('Progressing', 'True', NEW_RS_CREATED_REASON, `Created new replica set "${created.metadata.name}"`, this.nowMs));
      this.d = await this.client.updateStatus({ ...this.d, status });
    }
    return created;
  }

  private async setDeploymentRevision(revision: number): Promise<void> {
    if (revisionOf(this.d) === revision || revision === 0) return;
    const copy = deepClone(this.d);
    copy.metadata.annotations = { ...(copy.metadata.annotations ?? {}), [REVISION_ANNOTATION]: String(revision) };
    this.d = await this.client.update(copy);
  }

  // ---- scaling -----------------------------------------------------------------

  private async scaleReplicaSet(rs: ReplicaSet, replicas: number, operation?: 'up' | 'down'): Promise<boolean> {
    const desired = deploymentReplicas(this.d);
    const copy = deepClone(rs);
    const sizeChanged = rsReplicas(rs) !== replicas;
    const annotationsChanged = setReplicasAnnotations(copy, desired, desired + maxSurge(this.d));
    if (!sizeChanged && !annotationsChanged) return false;
    copy.spec.replicas = replicas;
    const updated = await this.client.update(copy);
    this.replace(updated);
    if (!sizeChanged) return false;
    const op = operation ?? (replicas > rsReplicas(rs) ? 'up' : 'down');
    this.report.action(`scale ${op} replicaset ${podKey(rs)} ${rsReplicas(rs)} -> ${replicas}`);
    await this.recorder.normal(this.d, Reasons.ScalingReplicaSet, `Scaled ${op} replica set ${rs.metadata.name} to ${replicas}`);
    return true;
  }

  private current(rs: ReplicaSet): ReplicaSet {
    return this.sets.find((s) => s.metadata.uid === rs.metadata.uid) ?? rs;
  }

  private async isScalingEvent(): Promise<boolean> {
    const { newRS, oldSets } = await this.allSetsAndSyncRevision(false);
    const replicas = deploymentReplicas(this.d);
    return activeReplicaSets([...oldSets, newRS]).some((rs) => {
      const desired = desiredReplicasAnnotation(rs);
      return desired !== undefined && desired !== replicas;
    });
  }

  /** Scale only: no new set, no rollout step (paused or a change of spec.replicas). */
  private async sync(): Promise<void> {
    const { newRS, oldSets } = await this.allSetsAndSyncRevision(false);
    await this.scale(newRS, oldSets);
    const current = newRS ? this.current(newRS) : undefined;
    const currentOld = oldSets.map((rs) => this.current(rs));
    if (this.d.spec.paused) await this.cleanup(currentOld);
    await this.syncStatus([...currentOld, current], current);
  }

  private async scale(newRS: ReplicaSet | undefined, oldSets: ReplicaSet[]): Promise<void> {
    const replicas = deploymentReplicas(this.d);
    const target = findActiveOrLatest(newRS, oldSets);
    if (target) {
      if (rsReplicas(target) !== replicas) await this.scaleReplicaSet(target, replicas);
      return;
    }
    if (isSaturated(this.d, newRS)) {
      for (const old of activeReplicaSets(oldSets)) await this.scaleReplicaSet(old, 0);
      return;
    }
    if (!isRollingUpdate(this.d)) return;
    const active = activeReplicaSets([...oldSets, newRS]);
    const sizes = proportionalSizes(this.d, active);
    for (const rs of active) {
      const size = sizes.get(rs.metadata.name ?? '') ?? rsReplicas(rs);
      await this.scaleReplicaSet(this.current(rs), size);
    }
  }

  // ---- rollouts ------------------------------------------------------------------

  private async rolloutRolling(): Promise<void> {
    const { newRS: created, oldSets } = await this.allSetsAndSyncRevision(true);
    if (!created) throw new Error(`deployment ${podKey(this.d)}: no new replica set after creating one`);
    let newRS = created;
    const all = () => [...oldSets.map((rs) => this.current(rs)), this.current(newRS)];

    // Grow the new set within maxSurge.
    const replicas = deploymentReplicas(this.d);
    let scaled = false;
    if (rsReplicas(newRS) > replicas) scaled = await this.scaleReplicaSet(newRS, replicas, 'down');
    else if (rsReplicas(newRS) < replicas) scaled = await this.scaleReplicaSet(newRS, newRSNewReplicas(this.d, all(), newRS), 'up');
    newRS = this.current(newRS);
    if (scaled) return this.syncRolloutStatus(all(), newRS);

    // Shrink old sets within maxUnavailable, once every set's status is current.
    if (!statusesStale(all())) {
      const active = activeReplicaSets(oldSets.map((rs) => this.current(rs)));
      let scaledDown = false;
      for (const step of planOldReplicaSetsScaleDown(this.d, active, newRS)) {
        const rs = this.sets.find((s) => s.metadata.name === step.name);
        if (rs && (await this.scaleReplicaSet(rs, step.replicas, 'down'))) scaledDown = true;
      }
      if (scaledDown) return this.syncRolloutStatus(all(), newRS);
    }

    if (deploymentComplete(this.d, this.d.status)) await this.cleanup(oldSets.map((rs) => this.current(rs)));
    return this.syncRolloutStatus(all(), newRS);
  }

  /** Any pod (even one being deleted) of an old set that has not finished. */
  private oldPodsRunning(newRS: ReplicaSet | undefined, oldSets: readonly ReplicaSet[]): boolean {
    if (oldSets.some((rs) => (rs.status?.replicas ?? 0) > 0)) return true;
    const oldUids = new Set(oldSets.map((rs) => rs.metadata.uid));
    return this.pods.some((pod) => {
      const owner = controllerUid(pod);
      return owner !== undefined && owner !== newRS?.metadata.uid && oldUids.has(owner) && !isPodTerminated(pod);
    });
  }

  private async rolloutRecreate(): Promise<void> {
    let { newRS, oldSets } = await this.allSetsAndSyncRevision(false);
    const all = () => [...oldSets.map((rs) => this.current(rs)), newRS ? this.current(newRS) : undefined];
    let scaledDown = false;
    for (const old of activeReplicaSets(oldSets)) {
      if (await this.scaleReplicaSet(old, 0, 'down')) scaledDown = true;
    }
    if (scaledDown) return this.syncRolloutStatus(all(), newRS);
    if (this.oldPodsRunning(newRS, oldSets.map((rs) => this.current(rs)))) return this.syncRolloutStatus(all(), newRS);
    if (!newRS) ({ newRS, oldSets } = await this.allSetsAndSyncRevision(true));
    if (newRS) {
      const replicas = deploymentReplicas(this.d);
      if (rsReplicas(this.current(newRS)) !== replicas) await this.scaleReplicaSet(this.current(newRS), replicas);
    }
    if (deploymentComplete(this.d, this.d.status)) await this.cleanup(oldSets.map((rs) => this.current(rs)));
    return this.syncRolloutStatus(all(), newRS ? this.current(newRS) : undefined);
  }

  // ---- history, status ---------------------------------------------------------------

  private async cleanup(oldSets: readonly ReplicaSet[]): Promise<void> {
    for (const rs of replicaSetsToCleanUp(this.d, oldSets)) {
      await this.client.delete('ReplicaSet', rs.metadata.namespace, rs.metadata.name ?? '', { preconditions: { uid: rs.metadata.uid } });
      this.sets = this.sets.filter((s) => s.metadata.uid !== rs.metadata.uid);
      this.report.action(`delete old replicaset ${podKey(rs)} (revision ${revisionOf(rs)})`);
    }
  }

  private async checkPausedConditions(): Promise<void> {
    if (!hasProgressDeadline(this.d)) return;
    const condition = getCondition(this.d.status?.conditions, 'Progressing');
    if (condition?.reason === TIMED_OUT_REASON) return;
    const pausedShown = condition?.reason === PAUSED_REASON;
    const status = deepClone(this.d.status ?? {});
    if (this.d.spec.paused && !pausedShown) {
      setDeploymentCondition(status, newCondition('Progressing', 'Unknown', PAUSED_REASON, 'Deployment is paused', this.nowMs));
    } else if (!this.d.spec.paused && pausedShown) {
      setDeploymentCondition(status, newCondition('Progressing', 'Unknown', RESUMED_REASON, 'Deployment is resumed', this.nowMs));
    } else {
      return;
    }
    this.d = await this.client.updateStatus({ ...this.d, status });
  }

  private async syncStatus(all: ReadonlyArray<ReplicaSet | undefined>, newRS: ReplicaSet | undefined): Promise<void> {
    const status = calculateStatus(all, newRS, this.d, this.nowMs);
    if (!deepEqual(this.d.status, status)) this.d = await this.client.updateStatus({ ...this.d, status });
  }

  private async syncRolloutStatus(all: ReadonlyArray<ReplicaSet | undefined>, newRS: ReplicaSet | undefined): Promise<void> {
    const d = this.d;
    const status = calculateStatus(all, newRS, d, this.nowMs);
    if (!hasProgressDeadline(d)) removeDeploymentCondition(status, 'Progressing');
    const current = getCondition(d.status?.conditions, 'Progressing');
    const complete = status.replicas === status.updatedReplicas && current?.reason === NEW_RS_AVAILABLE_REASON;
    if (hasProgressDeadline(d) && !complete) {
      const what = newRS ? `ReplicaSet "${newRS.metadata.name}"` : `Deployment "${d.metadata.name}"`;
      if (deploymentComplete(d, status)) {
        setDeploymentCondition(status, newCondition('Progressing', 'True', NEW_RS_AVAILABLE_REASON, `${what} has successfully progressed.`, this.nowMs));
      } else if (deploymentProgressing(d, status)) {
        const condition = newCondition('Progressing', 'True', RS_UPDATED_REASON, `${what} is progressing.`, this.nowMs);
        if (current?.status === 'True' && current.lastTransitionTime !== undefined) condition.lastTransitionTime = current.lastTransitionTime;
        removeDeploymentCondition(status, 'Progressing');
        setDeploymentCondition(status, condition);
      } else if (deploymentTimedOut(d, status, this.nowMs)) {
        setDeploymentCondition(status, newCondition('Progressing', 'False', TIMED_OUT_REASON, `${what} has timed out progressing.`, this.nowMs));
        if (current?.reason !== TIMED_OUT_REASON) this.report.action(`deployment ${podKey(d)} exceeded its progress deadline`);
      }
    }
    if (!deepEqual(d.status, status)) this.d = await this.client.updateStatus({ ...d, status });
  }
}

export class DeploymentController {
  private readonly component: string;

  constructor(
    private readonly client: ControllerClient,
    options: DeploymentControllerOptions = {},
  ) {
    this.component = options.component ?? DEPLOYMENT_COMPONENT;
  }

  async runOnce(nowMs: number): Promise<ControllerReport> {
    const report = new ControllerReport('deployment');
    const deployments = await this.client.list('Deployment');
    if (deployments.length === 0) return report;
    const sets = await this.client.list('ReplicaSet');
    const pods = await this.client.list('Pod');
    for (const d of deployments) {
      const ns = d.metadata.namespace ?? 'default';
      await report.guard(podKey(d), () =>
        this.reconcile(
          d,
          sets.filter((rs) => (rs.metadata.namespace ?? 'default') === ns),
          pods.filter((p) => (p.metadata.namespace ?? 'default') === ns),
          nowMs,
          report,
        ),
      );
    }
    return report;
  }

  /** One Deployment, given the sets and pods of its namespace. */
  async reconcile(d: Deployment, setsInNamespace: readonly ReplicaSet[], podsInNamespace: readonly Pod[], nowMs: number, report: ControllerReport): Promise<void> {
    const owned = await this.claimReplicaSets(d, setsInNamespace, report);
    await new DeploymentSync(this.client, d, owned, podsInNamespace, nowMs, report, this.component).run();
  }

  /** Owned sets matching the selector; orphans that match are adopted, owned ones that do not are released. */
  private async claimReplicaSets(d: Deployment, sets: readonly ReplicaSet[], report: ControllerReport): Promise<ReplicaSet[]> {
    const { owned, adopt, release } = claim(d, d.spec.selector, sets);
    for (const rs of release) {
      const copy = deepClone(rs);
      copy.metadata.ownerReferences = (copy.metadata.ownerReferences ?? []).filter((r) => r.uid !== d.metadata.uid);
      await this.client.update(copy);
      report.action(`release replicaset ${podKey(rs)}`);
    }
    const adopted = new Map<string | undefined, ReplicaSet>();
    for (const rs of adopt) {
      const copy = deepClone(rs);
      copy.metadata.ownerReferences = [...(copy.metadata.ownerReferences ?? []), ownerReferenceTo(d)];
      adopted.set(rs.metadata.uid, await this.client.update(copy));
      report.action(`adopt replicaset ${podKey(rs)}`);
    }
    return owned.map((rs) => adopted.get(rs.metadata.uid) ?? rs);
  }
}
