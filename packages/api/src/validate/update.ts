/**
 * `validateUpdate(old, new)`: the new object must be valid, and fields that
 * may not change after creation must not have changed. Both objects are
 * expected to be defaulted (the stored one always is), and the server is
 * expected to have copied server-owned fields it keeps (uid,
 * creationTimestamp, allocated clusterIP/nodePorts) into the new object first.
 */
import type { FieldError } from '../errors.js';
import { deepClone, deepEqual, isObject } from '../json.js';
import type { ConfigMap, Pod, Resource, Secret, Service } from '../types/index.js';
import { FieldPath, forbidden, invalid } from './field.js';
import { invalidError, validate } from './validate.js';

const root = FieldPath.root();
const IMMUTABLE = 'field is immutable';
const MAX_DIFF_PATHS = 10;

/** Paths (at most `MAX_DIFF_PATHS`) where `a` and `b` differ, descending into objects and equal-length lists. */
export function diffPaths(a: unknown, b: unknown, path: FieldPath, out: FieldPath[] = []): FieldPath[] {
  if (out.length >= MAX_DIFF_PATHS || deepEqual(a, b)) return out;
  if (isObject(a) && isObject(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) diffPaths(a[key], b[key], path.child(key), out);
  } else if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((item, i) => diffPaths(item, b[i], path.index(i), out));
  } else {
    out.push(path);
  }
  return out;
}

const POD_UPDATE_RULE =
  'pod updates may not change fields other than `spec.containers[*].image`, `spec.tolerations` (only additions) and `spec.nodeName` (only to set it once)';

function podUpdate(oldPod: Pod, newPod: Pod): FieldError[] {
  const errors: FieldError[] = [];
  const before = deepClone(oldPod.spec ?? {}) as Record<string, unknown> & Partial<Pod['spec']>;
  const after = deepClone(newPod.spec ?? {}) as Record<string, unknown> & Partial<Pod['spec']>;
  if (!before.nodeName) {
    if (after.nodeName === undefined) delete before.nodeName;
    else before.nodeName = after.nodeName;
  }
  const oldContainers = before.containers ?? [];
  const newContainers = after.containers ?? [];
  oldContainers.forEach((c, i) => {
    const n = newContainers[i];
    if (!n) return;
    if (n.image === undefined) delete c.image;
    else c.image = n.image;
  });
  const oldTolerations = before.tolerations ?? [];
  const newTolerations = after.tolerations ?? [];
  if (oldTolerations.every((t) => newTolerations.some((u) => deepEqual(t, u)))) {
    if (after.tolerations === undefined) delete before.tolerations;
    else before.tolerations = after.tolerations;
  }
  for (const p of diffPaths(before, after, root.child('spec'))) errors.push(forbidden(p, POD_UPDATE_RULE));
  return errors;
}

function serviceUpdate(oldSvc: Service, newSvc: Service): FieldError[] {
  const errors: FieldError[] = [];
  const oldIP = oldSvc.spec?.clusterIP;
  const newIP = newSvc.spec?.clusterIP;
  if (oldIP && newIP !== oldIP) errors.push(invalid(root.child('spec', 'clusterIP'), newIP ?? '', IMMUTABLE));
  const oldPorts = oldSvc.spec?.ports ?? [];
  (newSvc.spec?.ports ?? []).forEach((p, i) => {
    const before = oldPorts.find((o) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
    if (before?.nodePort !== undefined && p.nodePort !== undefined && p.nodePort !== before.nodePort) {
      errors.push(invalid(root.child('spec', 'ports').index(i).child('nodePort'), p.nodePort, IMMUTABLE));
    }
  });
  return errors;
}

function dataUpdate(oldObj: ConfigMap | Secret, newObj: ConfigMap | Secret, dataFields: readonly string[]): FieldError[] {
  if (oldObj.immutable !== true) return [];
  const errors: FieldError[] = [];
  const rule = 'field is immutable when `immutable` is set';
  if (newObj.immutable !== true) errors.push(forbidden(root.child('immutable'), rule));
  const o = oldObj as unknown as Record<string, unknown>;
  const n = newObj as unknown as Record<string, unknown>;
  for (const field of dataFields) {
    if (!deepEqual(o[field] ?? {}, n[field] ?? {})) errors.push(forbidden(root.child(field), rule));
  }
  return errors;
}

function kindUpdate(oldObj: Resource, newObj: Resource): FieldError[] {
  switch (newObj.kind) {
    case 'Pod':
      return podUpdate(oldObj as Pod, newObj);
    case 'Deployment':
    case 'ReplicaSet':
    case 'DaemonSet': {
      const before = (oldObj as typeof newObj).spec?.selector;
      const after = newObj.spec?.selector;
      return deepEqual(before, after) ? [] : [invalid(root.child('spec', 'selector'), after ?? null, IMMUTABLE)];
    }
    case 'Service':
      return serviceUpdate(oldObj as Service, newObj);
    case 'ConfigMap':
      return dataUpdate(oldObj as ConfigMap, newObj, ['data', 'binaryData']);
    case 'Secret': {
      const errors = dataUpdate(oldObj as Secret, newObj, ['data', 'stringData']);
      const before = (oldObj as Secret).type ?? 'Opaque';
      const after = newObj.type ?? 'Opaque';
      if (before !== after) errors.push(invalid(root.child('type'), after, IMMUTABLE));
      return errors;
    }
    default:
      return [];
  }
}

/** Errors of `validate(newObj)` plus those of changing what may not change. */
export function validateUpdate(oldObj: Resource, newObj: unknown): FieldError[] {
  const errors = validate(newObj);
  if (!isObject(newObj)) return errors;
  if (newObj.kind !== oldObj.kind) return [...errors, invalid(root.child('kind'), newObj.kind, IMMUTABLE)];
  const updated = newObj as unknown as Resource;
  const oldMeta = oldObj.metadata ?? {};
  const newMeta = isObject(updated.metadata) ? updated.metadata : {};
  const metaPath = root.child('metadata');
  if ((oldMeta.name ?? '') !== (newMeta.name ?? '')) errors.push(invalid(metaPath.child('name'), newMeta.name ?? '', IMMUTABLE));
  if ((oldMeta.namespace ?? '') !== (newMeta.namespace ?? '')) {
    errors.push(invalid(metaPath.child('namespace'), newMeta.namespace ?? '', IMMUTABLE));
  }
  for (const field of ['uid', 'creationTimestamp'] as const) {
    if (newMeta[field] !== undefined && oldMeta[field] !== undefined && newMeta[field] !== oldMeta[field]) {
      errors.push(invalid(metaPath.child(field), newMeta[field], IMMUTABLE));
    }
  }
  if (oldMeta.deletionTimestamp) {
    const finalizers: unknown[] = Array.isArray(newMeta.finalizers) ? newMeta.finalizers : [];
    const added = finalizers.filter((f) => !(oldMeta.finalizers ?? []).includes(f as string));
    if (added.length > 0) {
      errors.push(
        forbidden(
          metaPath.child('finalizers'),
          `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
        ),
      );
    }
  }
  // The kind rules read the new object as typed, so they only run on a valid one.
  if (errors.length === 0) errors.push(...kindUpdate(oldObj, updated));
  return errors;
}

/** Throws `ApiError('Invalid')` unless `validateUpdate` finds nothing; returns `newObj` typed. */
export function validateUpdateOrThrow<T extends Resource>(oldObj: T, newObj: unknown): T {
  const errors = validateUpdate(oldObj, newObj);
  if (errors.length > 0) throw invalidError(newObj, errors);
  return newObj as T;
}
