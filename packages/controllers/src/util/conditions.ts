/** Status conditions, set the way Kubernetes sets them: the transition time moves only when the status does. */
import type { ConditionStatus } from '@bramble/api';

interface Condition {
  type: string;
  status: ConditionStatus;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export function getCondition<C extends Condition>(conditions: readonly C[] | undefined, type: string): C | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * `conditions` with `condition` in place of the one of its type. If the
 * existing one has the same status, its `lastTransitionTime` is kept.
 */
export function setCondition<C extends Condition>(conditions: readonly C[] | undefined, condition: C): C[] {
  const existing = getCondition(conditions, condition.type);
  const next = { ...condition };
  if (existing && existing.status === condition.status && existing.lastTransitionTime !== undefined) {
    next.lastTransitionTime = existing.lastTransitionTime;
  }
  const out = (conditions ?? []).filter((c) => c.type !== condition.type);
  out.push(next);
  return out;
}

export function removeCondition<C extends Condition>(conditions: readonly C[] | undefined, type: string): C[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}
