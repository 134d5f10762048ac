/** Node, Event and Lease rules beyond shape. */
import type { FieldError } from '../errors.js';
import { parseQuantity } from '../quantity.js';
import type { Event, Node } from '../types/index.js';
import { FieldPath, duplicate, invalid, required } from './field.js';

export function validateNode(node: Node): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  (node.spec?.taints ?? []).forEach((t, i) => {
    const key = `${t.key}:${t.effect}`;
    if (seen.has(key)) errors.push(duplicate(FieldPath.root('spec', 'taints').index(i), { key: t.key, effect: t.effect }));
    seen.add(key);
  });
  errors.push(...validateNodeStatus(node));
  return errors;
}

/** The rules on a Node's status beyond shape (also all a status update checks besides shape). */
export function validateNodeStatus(node: Node): FieldError[] {
  const errors: FieldError[] = [];
  for (const which of ['capacity', 'allocatable'] as const) {
    for (const [name, q] of Object.entries(node.status?.[which] ?? {})) {
      if (q !== undefined && parseQuantity(q).negative) {
        errors.push(invalid(FieldPath.root('status', which).key(name), q, 'must be greater than or equal to 0'));
      }
    }
  }
  return errors;
}

export function validateEvent(event: Event): FieldError[] {
  const errors: FieldError[] = [];
  const ref = event.involvedObject;
  if (!ref) return errors;
  const refPath = FieldPath.root('involvedObject');
  if (!ref.kind) errors.push(required(refPath.child('kind')));
  if (!ref.name) errors.push(required(refPath.child('name')));
  const ns = event.metadata?.namespace;
  if (ref.namespace && ns && ref.namespace !== ns) {
    errors.push(invalid(refPath.child('namespace'), ref.namespace, 'does not match event.namespace'));
  }
  return errors;
}
