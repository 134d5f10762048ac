// pod.status as the agent reports it: the runtime's view, plus what the agent adds
// (PodScheduled kept from the scheduler, hostIP/podIP = the node's address).
import { canonicalJson, type Pod, type PodCondition, type PodStatus } from '@bramble/api';
import type { PodRuntimeStatus } from './runtime/types.js';

function scheduledCondition(pod: Pod): PodCondition[] {
  const c = pod.status?.conditions?.find((x) => x.type === 'PodScheduled');
  return c ? [c] : [];
}

export function statusFromRuntime(pod: Pod, rt: PodRuntimeStatus, address: string): PodStatus {
  return {
    phase: rt.phase,
    conditions: [...scheduledCondition(pod), ...rt.conditions.filter((c) => c.type !== 'PodScheduled')],
    hostIP: address,
    podIP: address,
    startTime: rt.startTime,
    containerStatuses: rt.containerStatuses,
  };
}

/** Pending with nothing but containers being created: a status about to change (see StatusWriter's firstWriteHoldMs). */
export function isStarting(status: PodStatus): boolean {
  return status.phase === 'Pending' && (status.containerStatuses ?? []).every((c) => c.state?.waiting?.reason === 'ContainerCreating');
}

/** A condition with lastTransitionTime kept from the pod's current one while its status is unchanged. */
function condition(pod: Pod, type: string, status: 'True' | 'False', nowIso: string, reason?: string, message?: string): PodCondition {
  const prev = pod.status?.conditions?.find((c) => c.type === type);
  const lastTransitionTime = prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : nowIso;
  return { type, status, lastTransitionTime, ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
}

/**
 * The pod cannot start because a ConfigMap/Secret reference is missing: every container waits with
 * CreateContainerConfigError (env), or ContainerCreating (a volume's source).
 */
export function configErrorStatus(pod: Pod, message: string, address: string, nowIso: string, reason = 'CreateContainerConfigError'): PodStatus {
  const names = pod.spec.containers.map((c) => c.name);
  const notReady = `containers with unready status: [${names.join(' ')}]`;
  return {
    phase: 'Pending',
    conditions: [
      ...scheduledCondition(pod),
      condition(pod, 'Initialized', 'True', nowIso),
      condition(pod, 'ContainersReady', 'False', nowIso, 'ContainersNotReady', notReady),
      condition(pod, 'Ready', 'False', nowIso, 'ContainersNotReady', notReady),
    ],
    hostIP: address,
    podIP: address,
    startTime: pod.status?.startTime ?? nowIso,
    containerStatuses: pod.spec.containers.map((c) => ({
      name: c.name,
      ready: false,
      started: false,
      restartCount: 0,
      ...(c.image ? { image: c.image } : {}),
      state: { waiting: { reason, message } },
    })),
  };
}

/** Canonical text of a status: key order and undefined members do not count as a change. */
export function statusKey(status: PodStatus | undefined): string {
  return canonicalJson(JSON.parse(JSON.stringify(status ?? {})));
}
