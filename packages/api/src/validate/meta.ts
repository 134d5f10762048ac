/** ObjectMeta rules that depend on the kind: name formats, namespace scope, sizes, owners. */
import type { FieldError } from '../errors.js';
import type { KindInfo } from '../registry.js';
import type { ObjectMeta } from '../types/index.js';
import { FieldPath, forbidden, invalid, required, tooLong } from './field.js';
import { isDns1035Label, isDns1123Label, isDns1123Subdomain, maskTrailingDash } from './formats.js';

export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** The rule for object names of a kind: Namespaces are DNS labels, Services DNS-1035 labels, the rest DNS subdomains. */
export function nameRule(kind: string): (name: string) => string[] {
  if (kind === 'Namespace') return isDns1123Label;
  if (kind === 'Service') return isDns1035Label;
  return isDns1123Subdomain;
}

export function validateObjectMeta(meta: ObjectMeta, info: KindInfo, path: FieldPath): FieldError[] {
  const errors: FieldError[] = [];
  const rule = nameRule(info.kind);
  if (meta.name === undefined || meta.name === '') {
    if (meta.generateName === undefined || meta.generateName === '') {
      errors.push(required(path.child('name'), 'name or generateName is required'));
    }
  } else {
    for (const p of rule(meta.name)) errors.push(invalid(path.child('name'), meta.name, p));
  }
  if (meta.generateName !== undefined && meta.generateName !== '') {
    for (const p of rule(maskTrailingDash(meta.generateName))) errors.push(invalid(path.child('generateName'), meta.generateName, p));
  }
  if (info.namespaced) {
    if (meta.namespace !== undefined && meta.namespace !== '') {
      for (const p of isDns1123Label(meta.namespace)) errors.push(invalid(path.child('namespace'), meta.namespace, p));
    }
  } else if (meta.namespace !== undefined && meta.namespace !== '') {
    errors.push(forbidden(path.child('namespace'), 'not allowed on this type'));
  }
  if (meta.annotations) {
    let bytes = 0;
    for (const [k, v] of Object.entries(meta.annotations)) bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
    if (bytes > MAX_ANNOTATIONS_BYTES) errors.push(tooLong(path.child('annotations'), MAX_ANNOTATIONS_BYTES));
  }
  const refs = meta.ownerReferences ?? [];
  const controllers = refs.filter((r) => r.controller === true);
  if (controllers.length > 1) {
    errors.push(
      invalid(
        path.child('ownerReferences'),
        refs,
        `only one reference can have controller set to true; found true in references for ${controllers.map((r) => `${r.kind}/${r.name}`).join(' and ')}`,
      ),
    );
  }
  const seenUids = new Set<string>();
  refs.forEach((r, i) => {
    if (seenUids.has(r.uid)) errors.push(invalid(path.child('ownerReferences').index(i).child('uid'), r.uid, 'must be unique'));
    seenUids.add(r.uid);
  });
  const finalizers = meta.finalizers ?? [];
  finalizers.forEach((f, i) => {
    if (finalizers.indexOf(f) !== i) errors.push(invalid(path.child('finalizers').index(i), f, 'must be unique'));
  });
  return errors;
}
