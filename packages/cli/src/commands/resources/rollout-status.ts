// What `rollout status` says about a Deployment, as kubectl's DeploymentStatusViewer
// decides it: waiting for the spec to be observed, for updated replicas, for old replicas to
// go, for updated replicas to become available; done; or failed (progress deadline exceeded).
import type { Deployment } from '@bramble/api';
import { CliError } from '../../errors.js';
import { revisionOf } from './rollout-history.js';

export interface RolloutState {
  /** One line, ending in a newline. */
  text: string;
  done: boolean;
}

const TIMED_OUT_REASON = 'ProgressDeadlineExceeded';

/**
 * The current state of `d`'s rollout; throws a CliError when it can never finish
 * (progress deadline exceeded) or when `revision` is given and is not the Deployment's.
 */
export function deploymentRolloutState(d: Deployment, revision?: number): RolloutState {
  const name = d.metadata.name ?? '';
  if (revision !== undefined && revision > 0) {
    const current = revisionOf(d);
    if (current !== revision) throw new CliError(`desired revision (${revision}) is different from the running revision (${current})`);
  }
  const status = d.status ?? {};
  if ((d.metadata.generation ?? 0) > (status.observedGeneration ?? 0)) {
    return { text: 'Waiting for deployment spec update to be observed...\n', done: false };
  }
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === TIMED_OUT_REASON) throw new CliError(`deployment ${JSON.stringify(name)} exceeded its progress deadline`);
  const want = d.spec.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const replicas = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  const waiting = (what: string): RolloutState => ({ text: `Waiting for deployment ${JSON.stringify(name)} rollout to finish: ${what}...\n`, done: false });
  if (updated < want) return waiting(`${updated} out of ${want} new replicas have been updated`);
  if (replicas > updated) return waiting(`${replicas - updated} old replicas are pending termination`);
  if (available < updated) return waiting(`${available} of ${updated} updated replicas are available`);
  return { text: `deployment ${JSON.stringify(name)} successfully rolled out\n`, done: true };
}
