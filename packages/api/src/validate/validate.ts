/**
 * `validate(obj)`: every problem with an object, as kubectl-style field
 * errors. Two passes:
 *
 * 1. structure (schemas.ts): types, enumerations, formats, ranges, required
 *    members and unknown members at every level;
 * 2. semantics (meta.ts, pod.ts, workloads.ts, ...): rules across fields,
 *    run on the sanitized copy from pass 1. Their errors at or under a path
 *    that failed pass 1 are dropped, so one mistake gives one error.
 *
 * Validation does not apply defaults: `parseManifests` and the API server
 * call `applyDefaults` first, and rules that depend on a default (e.g. the
 * restart policy of a template) treat a missing value as its default.
 */
import { ApiError, type FieldError } from '../errors.js';
import { isObject } from '../json.js';
import { KINDS } from '../registry.js';
import type { KindName, Pod, Resource, ResourceKinds } from '../types/index.js';
import { validateEvent, validateNode, validateNodeStatus } from './cluster.js';
import { validateConfigMap, validateSecret } from './config.js';
import { FieldPath, invalid, notSupported, required } from './field.js';
import { validateObjectMeta } from './meta.js';
import { validatePodSpec } from './pod.js';
import { checkStructure } from './schema.js';
import { kindSchemas } from './schemas.js';
import { validateEndpoints, validateService } from './service.js';
import { validateDaemonSet, validateDeployment, validateReplicaSet } from './workloads.js';

const root = FieldPath.root();

const WORKLOAD_OWNERS = new Set(['ReplicaSet', 'DaemonSet', 'Deployment']);

function validatePod(pod: Pod): FieldError[] {
  if (!pod.spec) return [];
  const errors = validatePodSpec(pod.spec, root.child('spec'));
  const controller = pod.metadata?.ownerReferences?.find((r) => r.controller === true);
  const policy = pod.spec.restartPolicy;
  if (controller && WORKLOAD_OWNERS.has(controller.kind) && policy !== undefined && policy !== 'Always') {
    errors.push(notSupported(root.child('spec', 'restartPolicy'), policy, ['Always']));
  }
  return errors;
}

const semantic: { [K in KindName]: (obj: ResourceKinds[K]) => FieldError[] } = {
  Namespace: () => [],
  Node: validateNode,
  Pod: validatePod,
  ReplicaSet: validateReplicaSet,
  Deployment: validateDeployment,
  DaemonSet: validateDaemonSet,
  Service: validateService,
  Endpoints: validateEndpoints,
  ConfigMap: validateConfigMap,
  Secret: validateSecret,
  Event: validateEvent,
  Lease: () => [],
};

/** Every problem with `obj` (empty = valid). `obj` is anything decoded from JSON or YAML. */
export function validate(obj: unknown): FieldError[] {
  if (!isObject(obj)) return [invalid(root, obj, 'must be an object with apiVersion, kind and metadata')];
  const kindPath = root.child('kind');
  const versionPath = root.child('apiVersion');
  const head: FieldError[] = [];
  const { kind, apiVersion } = obj;
  if (kind === undefined || kind === null || kind === '') return [required(kindPath)];
  const info = KINDS.find((k) => k.kind === kind);
  if (!info) {
    return [
      typeof kind === 'string'
        ? notSupported(kindPath, kind, KINDS.map((k) => k.kind))
        : invalid(kindPath, kind, 'must be a string'),
    ];
  }
  if (apiVersion === undefined || apiVersion === null || apiVersion === '') head.push(required(versionPath));
  else if (typeof apiVersion === 'string' && apiVersion !== info.apiVersion) head.push(notSupported(versionPath, apiVersion, [info.apiVersion]));

  const structure = checkStructure(kindSchemas[info.kind], obj, root);
  const sanitized = structure.value as Resource;
  const semanticErrors = [
    ...validateObjectMeta(sanitized.metadata ?? {}, info, root.child('metadata')),
    ...(semantic[info.kind] as (o: Resource) => FieldError[])(sanitized),
  ];
  const badPaths = structure.badPaths;
  const kept = semanticErrors.filter((e) => !badPaths.some((bad) => isWithin(e.path, bad.segments)));
  return [...head, ...structure.errors, ...kept];
}

/** Status rules beyond shape, for the kinds that have any. */
const semanticStatus: { [K in KindName]?: (obj: ResourceKinds[K]) => FieldError[] } = {
  Node: validateNodeStatus,
};

/**
 * Every problem with `obj.status`, for a status update: everything else in `obj` is the
 * stored version, which was validated when it was written, so only the status is checked
 * (as Kubernetes' status subresource validates only what it changes). For a pod's status
 * this is about a tenth of the work of `validate`, and agents write one per pod start.
 */
export function validateStatus(obj: Resource): FieldError[] {
  const info = KINDS.find((k) => k.kind === obj.kind);
  const schema = info ? kindSchemas[info.kind] : undefined;
  const statusSchema = schema?.t === 'object' ? schema.fields.status : undefined;
  const status = (obj as unknown as { status?: unknown }).status;
  if (!info || !statusSchema) return validate(obj);
  if (status === undefined || status === null) return [];
  const structure = checkStructure(statusSchema, status, root.child('status'));
  if (structure.errors.length > 0) return structure.errors;
  const rule = semanticStatus[info.kind] as ((o: Resource) => FieldError[]) | undefined;
  return rule ? rule({ ...obj, status: structure.value } as Resource) : [];
}

/** Returns `obj` if its status is valid (see validateStatus); otherwise throws like validateOrThrow. */
export function validateStatusOrThrow<T extends Resource>(obj: T): T {
  const errors = validateStatus(obj);
  if (errors.length > 0) throw invalidError(obj, errors);
  return obj;
}

function isWithin(path: readonly (string | number)[], prefix: readonly (string | number)[]): boolean {
  return prefix.length <= path.length && prefix.every((s, i) => path[i] === s);
}

/**
 * Returns `obj` typed as a resource if it is valid; otherwise throws
 * `ApiError` with code `Invalid`, every error in `fieldErrors`, and a message
 * like `Deployment "web" is invalid: spec.replicas: Invalid value: -1: ...`.
 */
export function validateOrThrow<T = Resource>(obj: unknown): T {
  const errors = validate(obj);
  if (errors.length > 0) throw invalidError(obj, errors);
  return obj as T;
}

/** The `Invalid` ApiError for an object and its errors. */
export function invalidError(obj: unknown, errors: FieldError[]): ApiError {
  const kind = isObject(obj) && typeof obj.kind === 'string' ? obj.kind : undefined;
  const meta = isObject(obj) && isObject(obj.metadata) ? obj.metadata : undefined;
  const name = meta && typeof meta.name === 'string' ? meta.name : undefined;
  return ApiError.invalid(kind, name, errors);
}
