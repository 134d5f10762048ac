// A Deployment's rollout history as kubectl reads it: the ReplicaSets it controls, each
// one revision (the deployment.kubernetes.io/revision annotation) with its change-cause;
// and the rollback `rollout undo` makes from one of them.
import { deepClone, LAST_APPLIED_ANNOTATION, templateWithoutHash } from '@bramble/api';
import type { Deployment, PodTemplateSpec, ReplicaSet } from '@bramble/api';
import { CliError } from '../../errors.js';

// The annotation names the Deployment controller uses (packages/controllers/src/deployment-plan.ts).
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

/** Controller bookkeeping and applied manifests: kept from the Deployment on undo, never taken from the ReplicaSet. */
const NOT_ROLLED_BACK = new Set([
  LAST_APPLIED_ANNOTATION,
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
]);

export function revisionOf(obj: { metadata: { annotations?: Record<string, string> } }): number {
  const text = obj.metadata.annotations?.[REVISION_ANNOTATION];
  return text !== undefined && /^[0-9]+$/.test(text) ? Number(text) : 0;
}

/** The ReplicaSets whose controller is `d` (by uid), oldest revision first. */
export function ownedReplicaSets(d: Deployment, sets: readonly ReplicaSet[]): ReplicaSet[] {
  return sets
    .filter((rs) => rs.metadata.ownerReferences?.some((o) => o.controller && o.uid === d.metadata.uid))
    .sort((a, b) => revisionOf(a) - revisionOf(b));
}

export interface HistoryRow {
  revision: number;
  changeCause: string | undefined;
  replicaSet: ReplicaSet;
}

/** One row per revision (sets without a revision annotation are not revisions). */
export function historyRows(owned: readonly ReplicaSet[]): HistoryRow[] {
  return owned
    .filter((rs) => revisionOf(rs) > 0)
    .map((rs) => ({ revision: revisionOf(rs), changeCause: rs.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION], replicaSet: rs }))
    .sort((a, b) => a.revision - b.revision);
}

/** The set of revision `revision`; 0 = the one before the latest (kubectl's deploymentRevision). */
export function findRevision(d: Deployment, owned: readonly ReplicaSet[], revision: number): ReplicaSet {
  const rows = historyRows(owned);
  if (revision > 0) {
    const row = rows.find((r) => r.revision === revision);
    if (!row) throw new CliError(`unable to find specified revision ${revision} in history`);
    return row.replicaSet;
  }
  if (rows.length < 2) throw new CliError(`no rollout history found for deployment ${JSON.stringify(d.metadata.name ?? '')}`);
  return rows[rows.length - 2].replicaSet;
}


/**
 * `d` rolled back to `rs`: its template (without the hash label), and the annotations
 * the set carried at that revision (change-cause ...) in place of the Deployment's,
 * the bookkeeping ones kept (kubectl's DeploymentRollbacker).
 */
export function rolledBack(d: Deployment, rs: ReplicaSet): Deployment {
  const next = deepClone(d);
  next.spec.template = templateWithoutHash(rs.spec.template);
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) if (NOT_ROLLED_BACK.has(k)) annotations[k] = v;
  for (const [k, v] of Object.entries(rs.metadata.annotations ?? {})) if (!NOT_ROLLED_BACK.has(k)) annotations[k] = v;
  if (Object.keys(annotations).length > 0) next.metadata.annotations = annotations;
  else delete next.metadata.annotations;
  return next;
}
