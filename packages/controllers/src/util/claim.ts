/**
 * Ownership claims (Kubernetes' ControllerRefManager): which objects a
 * controller owns, which orphans it should adopt and which of its objects it
 * should release because they no longer match its selector.
 */
import type { LabelSelector, ObjectMeta } from '@bramble/api';
import { controllerUid, isBeingDeleted, isControlledBy, selectorMatches } from './pods.js';

export interface Claim<T> {
  /** Controlled and matching, plus the orphans to adopt. */
  owned: T[];
  adopt: T[];
  release: T[];
}

export function claim<T extends { metadata: ObjectMeta }>(
  owner: { metadata: ObjectMeta },
  selector: LabelSelector | undefined,
  candidates: readonly T[],
): Claim<T> {
  const out: Claim<T> = { owned: [], adopt: [], release: [] };
  const ownerDeleting = isBeingDeleted(owner);
  for (const obj of candidates) {
    const matches = selectorMatches(selector, obj.metadata.labels);
    if (isControlledBy(obj, owner)) {
      if (matches) out.owned.push(obj);
      else if (!isBeingDeleted(obj)) out.release.push(obj);
    } else if (controllerUid(obj) === undefined && matches && !isBeingDeleted(obj) && !ownerDeleting) {
      out.adopt.push(obj);
      out.owned.push(obj);
    }
  }
  return out;
}
