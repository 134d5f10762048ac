/**
 * Event reasons, named as Kubernetes names them so `kubectl describe`-style
 * output reads the same. The first group comes from the controllers; the
 * agent reports the second.
 */
export const Reasons = {
  // scheduler
  Scheduled: 'Scheduled',
  FailedScheduling: 'FailedScheduling',
  // replica sets and daemon sets
  SuccessfulCreate: 'SuccessfulCreate',
  SuccessfulDelete: 'SuccessfulDelete',
  FailedCreate: 'FailedCreate',
  FailedDelete: 'FailedDelete',
  FailedDaemonPod: 'FailedDaemonPod',
  // deployments
  ScalingReplicaSet: 'ScalingReplicaSet',
  DeploymentRollback: 'DeploymentRollback',
  // node lifecycle
  NodeNotReady: 'NodeNotReady',
  NodeReady: 'NodeReady',
  NodeControllerEviction: 'NodeControllerEviction',
  // garbage collector
  GarbageCollected: 'GarbageCollected',
  // agent (reported by packages/agent, listed here so every reason has one home)
  Pulled: 'Pulled',
  Created: 'Created',
  Started: 'Started',
  Killing: 'Killing',
  BackOff: 'BackOff',
  Unhealthy: 'Unhealthy',
} as const;

export type Reason = (typeof Reasons)[keyof typeof Reasons];
