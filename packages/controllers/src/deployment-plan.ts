/**
 * The pure part of the Deployment controller: revisions, surge and
 * unavailability budgets, the rolling-update step sizes, proportional
 * scaling, status and conditions, exactly as Kubernetes' deployment util
 * computes them. No client, no clock: times come in as `nowMs`.
 */
import { deepClone, LAST_APPLIED_ANNOTATION, scaledValue, templatesEqualIgnoringHash } from '@bramble/api';
import type { Deployment, DeploymentStatus, PodTemplateSpec, ReplicaSet, WorkloadCondition } from '@bramble/api';
import { getCondition } from './util/conditions.js';
import { isBeingDeleted } from './util/pods.js';
import { isoTime, parseTime } from './util/time.js';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';
/** Set by `kubectl rollout restart` / `bramble rollout restart` on the pod template. */
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
/** What `rollout history` prints per revision; copied from the Deployment to its new ReplicaSet. */
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
const KUBECTL_LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
/** Bound of the revision-history annotation (Kubernetes' default). */
export const MAX_REVISION_HISTORY_CHARS = 2000;

// Progressing / Available condition reasons (Kubernetes' names).
export const NEW_RS_AVAILABLE_REASON = 'NewReplicaSetAvailable';
export const RS_UPDATED_REASON = 'ReplicaSetUpdated';
export const TIMED_OUT_REASON = 'ProgressDeadlineExceeded';
export const NEW_RS_CREATED_REASON = 'NewReplicaSetCreated';
export const FOUND_NEW_RS_REASON = 'FoundNewReplicaSet';
export const PAUSED_REASON = 'DeploymentPaused';
export const RESUMED_REASON = 'DeploymentResumed';
export const MIN_AVAILABLE_REASON = 'MinimumReplicasAvailable';
export const MIN_UNAVAILABLE_REASON = 'MinimumReplicasUnavailable';

const DEFAULT_SURGE = '25%';
const DEFAULT_UNAVAILABLE = '25%';

/** `spec.replicas` with Kubernetes' default of 1. */
export function deploymentReplicas(d: Deployment): number {
  return d.spec.replicas ?? 1;
}

export function rsReplicas(rs: ReplicaSet | undefined): number {
  return rs === undefined ? 0 : (rs.spec.replicas ?? 1);
}

export function isRollingUpdate(d: Deployment): boolean {
  return (d.spec.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
}

/**
 * maxSurge (rounded up) and maxUnavailable (rounded down) of `spec.replicas`;
 * if both come out 0, maxUnavailable is 1 so a rollout can progress
 * (Kubernetes' ResolveFenceposts).
 */
export function resolveFenceposts(d: Deployment): { maxSurge: number; maxUnavailable: number } {
  const replicas = deploymentReplicas(d);
  const rolling = d.spec.strategy?.rollingUpdate;
  const maxSurge = scaledValue(rolling?.maxSurge ?? DEFAULT_SURGE, replicas, true);
  let maxUnavailable = scaledValue(rolling?.maxUnavailable ?? DEFAULT_UNAVAILABLE, replicas, false);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable };
}

/** 0 unless RollingUpdate. */
export function maxSurge(d: Deployment): number {
  return isRollingUpdate(d) ? resolveFenceposts(d).maxSurge : 0;
}

/** 0 unless RollingUpdate with replicas > 0; never more than replicas. */
export function maxUnavailable(d: Deployment): number {
  const replicas = deploymentReplicas(d);
  if (!isRollingUpdate(d) || replicas === 0) return 0;
  return Math.min(resolveFenceposts(d).maxUnavailable, replicas);
}

export function revisionOf(obj: { metadata: { annotations?: Record<string, string> } }): number {
  const text = obj.metadata.annotations?.[REVISION_ANNOTATION];
  if (text === undefined || !/^[0-9]+$/.test(text)) return 0;
  return Number(text);
}

export function maxRevision(sets: readonly ReplicaSet[]): number {
  return sets.reduce((max, rs) => Math.max(max, revisionOf(rs)), 0);
}

/** Templates equal apart from the `pod-template-hash` label (Kubernetes' EqualIgnoreHash). */
export const templatesEqual = templatesEqualIgnoringHash;

function creationMs(rs: ReplicaSet): number {
  return parseTime(rs.metadata.creationTimestamp) ?? 0;
}

/** Oldest first, then by name. */
export function byCreationOldest(a: ReplicaSet, b: ReplicaSet): number {
  return creationMs(a) - creationMs(b) || ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1);
}

/** The oldest ReplicaSet whose template is the Deployment's. */
export function findNewReplicaSet(d: Deployment, sets: readonly ReplicaSet[]): ReplicaSet | undefined {
  return [...sets].sort(byCreationOldest).find((rs) => templatesEqual(rs.spec.template, d.spec.template));
}

export function activeReplicaSets(sets: ReadonlyArray<ReplicaSet | undefined>): ReplicaSet[] {
  return sets.filter((rs): rs is ReplicaSet => rs !== undefined && rsReplicas(rs) > 0);
}

export function sumSpecReplicas(sets: ReadonlyArray<ReplicaSet | undefined>): number {
  return sets.reduce((sum, rs) => sum + rsReplicas(rs), 0);
}

export function sumStatus(
  sets: ReadonlyArray<ReplicaSet | undefined>,
  field: 'replicas' | 'readyReplicas' | 'availableReplicas',
): number {
  return sets.reduce((sum, rs) => sum + (rs?.status?.[field] ?? 0), 0);
}

/**
 * How big the new ReplicaSet may be now. RollingUpdate: grow until all sets
 * together reach replicas + maxSurge, never past replicas. Recreate: replicas.
 */
export function newRSNewReplicas(d: Deployment, allSets: ReadonlyArray<ReplicaSet | undefined>, newRS: ReplicaSet): number {
  const replicas = deploymentReplicas(d);
  if (!isRollingUpdate(d)) return replicas;
  const current = sumSpecReplicas(allSets);
  const maxTotal = replicas + resolveFenceposts(d).maxSurge;
  if (current >= maxTotal) return rsReplicas(newRS);
  const scaleUp = Math.min(maxTotal - current, replicas - rsReplicas(newRS));
  return rsReplicas(newRS) + scaleUp;
}

function annotationNumber(rs: ReplicaSet, key: string): number | undefined {
  const text = rs.metadata.annotations?.[key];
  return text !== undefined && /^[0-9]+$/.test(text) ? Number(text) : undefined;
}

export function desiredReplicasAnnotation(rs: ReplicaSet): number | undefined {
  return annotationNumber(rs, DESIRED_REPLICAS_ANNOTATION);
}

/** Sets desired-replicas and max-replicas; true if anything changed. */
export function setReplicasAnnotations(rs: ReplicaSet, desired: number, max: number): boolean {
  const annotations = { ...(rs.metadata.annotations ?? {}) };
  const changed = annotations[DESIRED_REPLICAS_ANNOTATION] !== String(desired) || annotations[MAX_REPLICAS_ANNOTATION] !== String(max);
  annotations[DESIRED_REPLICAS_ANNOTATION] = String(desired);
  annotations[MAX_REPLICAS_ANNOTATION] = String(max);
  rs.metadata.annotations = annotations;
  return changed;
}

/**
 * Deployment annotations that are the controller's own bookkeeping (or the
 * applied manifest) and are never copied to a ReplicaSet (Kubernetes'
 * skipCopyAnnotation; `kubectl rollout undo` skips the same ones).
 */
export const NOT_COPIED_ANNOTATIONS: ReadonlySet<string> = new Set([
  LAST_APPLIED_ANNOTATION,
  KUBECTL_LAST_APPLIED_ANNOTATION,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
]);

/**
 * Copies the Deployment's annotations (e.g. `kubernetes.io/change-cause`)
 * onto its new ReplicaSet, so `rollout history` can show them per revision.
 * Existing ReplicaSet annotations of other keys stay. True if changed.
 */
export function copyDeploymentAnnotations(d: Deployment, annotations: Record<string, string>): boolean {
  let changed = false;
  for (const [key, value] of Object.entries(d.metadata.annotations ?? {})) {
    if (NOT_COPIED_ANNOTATIONS.has(key) || annotations[key] === value) continue;
    annotations[key] = value;
    changed = true;
  }
  return changed;
}

/**
 * `history` with `revision` appended, oldest entries dropped so the result
 * stays within `limitChars` (Kubernetes keeps at most 2000 characters).
 */
export function appendRevisionHistory(history: string | undefined, revision: string, limitChars = MAX_REVISION_HISTORY_CHARS): string | undefined {
  const entries = history ? history.split(',').filter((e) => e !== '') : [];
  entries.push(revision);
  while (entries.length > 0 && entries.join(',').length > limitChars) entries.shift();
  return entries.length > 0 ? entries.join(',') : history;
}

/**
 * Copies the Deployment's annotations, and gives the new ReplicaSet
 * `newRevision` if its own is lower (a rollback to an old template gets the
 * next number; the old numbers go to revision-history). With `created`, also
 * the replica annotations. True if changed.
 */
export function setNewReplicaSetAnnotations(d: Deployment, rs: ReplicaSet, newRevision: number, created: boolean): boolean {
  const annotations = { ...(rs.metadata.annotations ?? {}) };
  let changed = copyDeploymentAnnotations(d, annotations);
  const old = annotations[REVISION_ANNOTATION];
  const oldRevision = old === undefined ? 0 : /^[0-9]+$/.test(old) ? Number(old) : undefined;
  if (oldRevision !== undefined && oldRevision < newRevision) {
    annotations[REVISION_ANNOTATION] = String(newRevision);
    if (old !== undefined) {
      const history = appendRevisionHistory(annotations[REVISION_HISTORY_ANNOTATION], old);
      if (history !== undefined) annotations[REVISION_HISTORY_ANNOTATION] = history;
    }
    changed = true;
  }
  rs.metadata.annotations = annotations;
  if (created) {
    const replicas = deploymentReplicas(d);
    if (setReplicasAnnotations(rs, replicas, replicas + maxSurge(d))) changed = true;
  }
  return changed;
}

/** The new set has all replicas, all available, and knows the current size. */
export function isSaturated(d: Deployment, rs: ReplicaSet | undefined): boolean {
  if (rs === undefined) return false;
  const replicas = deploymentReplicas(d);
  return rsReplicas(rs) === replicas && desiredReplicasAnnotation(rs) === replicas && (rs.status?.availableReplicas ?? 0) === replicas;
}

/** The only active set, else (with none active) the new or the newest; undefined with several active. */
export function findActiveOrLatest(newRS: ReplicaSet | undefined, oldSets: readonly ReplicaSet[]): ReplicaSet | undefined {
  if (newRS === undefined && oldSets.length === 0) return undefined;
  const newestFirst = [...oldSets].sort((a, b) => byCreationOldest(b, a));
  const active = activeReplicaSets([...newestFirst, newRS]);
  if (active.length === 1) return active[0];
  if (active.length > 1) return undefined;
  return newRS ?? newestFirst[0];
}

/** True while some set's status has not caught up with its spec (the ReplicaSet controller has not run on it yet). */
export function statusesStale(sets: ReadonlyArray<ReplicaSet | undefined>): boolean {
  return sets.some((rs) => rs !== undefined && (rs.status?.observedGeneration ?? 0) < (rs.metadata.generation ?? 0));
}

/**
 * Proportional scaling while a rollout is in progress and `spec.replicas`
 * changes: the difference from (replicas + maxSurge) is shared among the
 * active sets by their share of the previous size (max-replicas
 * annotation), rounding leftovers into the largest. Returns the new size per set name.
 */
export function proportionalSizes(d: Deployment, activeSets: readonly ReplicaSet[]): Map<string, number> {
  const replicas = deploymentReplicas(d);
  const surge = maxSurge(d);
  const allowed = replicas > 0 ? replicas + surge : 0;
  const toAdd = allowed - sumSpecReplicas(activeSets);
  const sets = [...activeSets];
  const sizeThenAge = (newerFirst: boolean) => (a: ReplicaSet, b: ReplicaSet) =>
    rsReplicas(b) - rsReplicas(a) || (newerFirst ? byCreationOldest(b, a) : byCreationOldest(a, b));
  if (toAdd > 0) sets.sort(sizeThenAge(true));
  else if (toAdd < 0) sets.sort(sizeThenAge(false));
  const sizes = new Map<string, number>();
  let added = 0;
  for (const rs of sets) {
    let proportion = 0;
    if (toAdd !== 0 && rsReplicas(rs) > 0 && toAdd !== added) {
      let fraction: number;
      if (replicas === 0) fraction = -rsReplicas(rs);
      else {
        // A missing or zero max-replicas annotation falls back to the last observed size (Kubernetes' getReplicaSetFraction).
        const annotated = annotationNumber(rs, MAX_REPLICAS_ANNOTATION) || (d.status?.replicas ?? 0);
        fraction = annotated === 0 ? 0 : Math.round((rsReplicas(rs) * (replicas + surge)) / annotated) - rsReplicas(rs);
      }
      const remaining = toAdd - added;
      proportion = toAdd > 0 ? Math.min(fraction, remaining) : Math.max(fraction, remaining);
    }
    sizes.set(rs.metadata.name ?? '', rsReplicas(rs) + proportion);
    added += proportion;
  }
  if (sets.length > 0 && toAdd !== 0) {
    const first = sets[0].metadata.name ?? '';
    sizes.set(first, Math.max(0, (sizes.get(first) ?? 0) + toAdd - added));
  }
  return sizes;
}

/** A scale step: `set` goes to `replicas`. */
export interface ScaleStep {
  name: string;
  replicas: number;
}

/**
 * RollingUpdate, old side: how far old sets may shrink now without going
 * below replicas - maxUnavailable available pods. First unhealthy old pods
 * (replicas beyond the available ones, oldest set first), then available
 * ones down to the budget. Returns the steps in order (Kubernetes'
 * reconcileOldReplicaSets, cleanupUnhealthyReplicas and
 * scaleDownOldReplicaSetsForRollingUpdate).
 */
export function planOldReplicaSetsScaleDown(d: Deployment, oldSets: readonly ReplicaSet[], newRS: ReplicaSet): ScaleStep[] {
  const old = [...oldSets].map((rs) => ({ rs, replicas: rsReplicas(rs) })).sort((a, b) => byCreationOldest(a.rs, b.rs));
  const oldCount = old.reduce((sum, o) => sum + o.replicas, 0);
  if (oldCount === 0) return [];
  const replicas = deploymentReplicas(d);
  const minAvailable = replicas - maxUnavailable(d);
  const allCount = oldCount + rsReplicas(newRS);
  const newUnavailable = rsReplicas(newRS) - (newRS.status?.availableReplicas ?? 0);
  const maxScaledDown = allCount - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return [];
  const steps = new Map<string, number>();

  // 1. Unhealthy replicas first: they do not count as available anyway.
  let cleaned = 0;
  for (const o of old) {
    if (cleaned >= maxScaledDown) break;
    const available = o.rs.status?.availableReplicas ?? 0;
    if (o.replicas === 0 || o.replicas <= available) continue;
    const down = Math.min(maxScaledDown - cleaned, o.replicas - available);
    o.replicas -= down;
    cleaned += down;
    steps.set(o.rs.metadata.name ?? '', o.replicas);
  }

  // 2. Then available ones, keeping minAvailable.
  const available = old.reduce((sum, o) => sum + Math.min(o.rs.status?.availableReplicas ?? 0, o.replicas), 0) + (newRS.status?.availableReplicas ?? 0);
  if (available > minAvailable) {
    const total = available - minAvailable;
    let scaled = 0;
    for (const o of old) {
      if (scaled >= total) break;
      if (o.replicas === 0) continue;
      const down = Math.min(o.replicas, total - scaled);
      o.replicas -= down;
      scaled += down;
      steps.set(o.rs.metadata.name ?? '', o.replicas);
    }
  }
  return [...steps].map(([name, n]) => ({ name, replicas: n }));
}

/** A condition stamped with `nowMs` (both times). */
export function newCondition(type: string, status: WorkloadCondition['status'], reason: string, message: string, nowMs: number): WorkloadCondition {
  const time = isoTime(nowMs);
  return { type, status, lastUpdateTime: time, lastTransitionTime: time, reason, message };
}

/**
 * Kubernetes' SetDeploymentCondition: no change if the status and reason are
 * the same; the transition time is kept if only the reason changes.
 */
export function setDeploymentCondition(status: DeploymentStatus, condition: WorkloadCondition): void {
  const current = getCondition(status.conditions, condition.type);
  if (current && current.status === condition.status && current.reason === condition.reason) return;
  const next = { ...condition };
  if (current && current.status === condition.status) next.lastTransitionTime = current.lastTransitionTime;
  status.conditions = [...(status.conditions ?? []).filter((c) => c.type !== condition.type), next];
}

export function removeDeploymentCondition(status: DeploymentStatus, type: string): void {
  const rest = (status.conditions ?? []).filter((c) => c.type !== type);
  if (rest.length > 0) status.conditions = rest;
  else delete status.conditions;
}

export function hasProgressDeadline(d: Deployment): boolean {
  return d.spec.progressDeadlineSeconds !== undefined && d.spec.progressDeadlineSeconds < 2 ** 31 - 1;
}

/**
 * Status as Kubernetes defines it: replicas, readyReplicas and
 * availableReplicas summed over the sets' statuses; updatedReplicas of the
 * new set; unavailableReplicas = desired pods (sum of spec) - available; the
 * Available condition by replicas - maxUnavailable.
 */
export function calculateStatus(allSets: ReadonlyArray<ReplicaSet | undefined>, newRS: ReplicaSet | undefined, d: Deployment, nowMs: number): DeploymentStatus {
  const available = sumStatus(allSets, 'availableReplicas');
  const total = sumSpecReplicas(allSets);
  const status: DeploymentStatus = {
    replicas: sumStatus(allSets, 'replicas'),
    updatedReplicas: sumStatus([newRS], 'replicas'),
    readyReplicas: sumStatus(allSets, 'readyReplicas'),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, total - available),
  };
  if (d.metadata.generation !== undefined) status.observedGeneration = d.metadata.generation;
  if (d.status?.collisionCount !== undefined) status.collisionCount = d.status.collisionCount;
  if (d.status?.conditions !== undefined) status.conditions = deepClone(d.status.conditions);
  if (available >= deploymentReplicas(d) - maxUnavailable(d)) {
    setDeploymentCondition(status, newCondition('Available', 'True', MIN_AVAILABLE_REASON, 'Deployment has minimum availability.', nowMs));
  } else {
    setDeploymentCondition(status, newCondition('Available', 'False', MIN_UNAVAILABLE_REASON, 'Deployment does not have minimum availability.', nowMs));
  }
  return status;
}

/** Every replica updated and available, and the status is of the current generation. */
export function deploymentComplete(d: Deployment, status: DeploymentStatus | undefined): boolean {
  const replicas = deploymentReplicas(d);
  return (
    status !== undefined &&
    status.updatedReplicas === replicas &&
    status.replicas === replicas &&
    status.availableReplicas === replicas &&
    (status.observedGeneration ?? 0) >= (d.metadata.generation ?? 0)
  );
}

/** Something moved since the last status: more updated, fewer old, more ready or more available. */
export function deploymentProgressing(d: Deployment, next: DeploymentStatus): boolean {
  const prev = d.status ?? {};
  const prevOld = (prev.replicas ?? 0) - (prev.updatedReplicas ?? 0);
  const nextOld = (next.replicas ?? 0) - (next.updatedReplicas ?? 0);
  return (
    (next.updatedReplicas ?? 0) > (prev.updatedReplicas ?? 0) ||
    nextOld < prevOld ||
    (next.readyReplicas ?? 0) > (prev.readyReplicas ?? 0) ||
    (next.availableReplicas ?? 0) > (prev.availableReplicas ?? 0)
  );
}

/** The Progressing condition was last updated more than progressDeadlineSeconds ago (and is not complete). */
export function deploymentTimedOut(d: Deployment, next: DeploymentStatus, nowMs: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const condition = getCondition(next.conditions, 'Progressing');
  if (!condition) return false;
  if (condition.reason === NEW_RS_AVAILABLE_REASON) return false;
  if (condition.reason === TIMED_OUT_REASON) return true;
  const from = parseTime(condition.lastUpdateTime);
  if (from === undefined) return false;
  return from + (d.spec.progressDeadlineSeconds ?? 0) * 1000 < nowMs;
}

/** Old sets beyond revisionHistoryLimit that may go: no replicas, status caught up, not being deleted; oldest revision first. */
export function replicaSetsToCleanUp(d: Deployment, oldSets: readonly ReplicaSet[]): ReplicaSet[] {
  const limit = d.spec.revisionHistoryLimit;
  if (limit === undefined || limit >= 2 ** 31 - 1) return [];
  const cleanable = oldSets.filter((rs) => !isBeingDeleted(rs));
  const diff = cleanable.length - limit;
  if (diff <= 0) return [];
  const byRevision = [...cleanable].sort((a, b) => revisionOf(a) - revisionOf(b) || byCreationOldest(a, b));
  return byRevision
    .slice(0, diff)
    .filter((rs) => (rs.status?.replicas ?? 0) === 0 && rsReplicas(rs) === 0 && (rs.metadata.generation ?? 0) <= (rs.status?.observedGeneration ?? 0));
}
