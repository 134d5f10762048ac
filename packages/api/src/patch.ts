/**
 * Patching: JSON merge patch (RFC 7386), kubectl-style apply, and the
 * pod-template hash that names ReplicaSets.
 */
import { ApiError } from './errors.js';
import { canonicalJson, deepClone, deepEqual, isObject, setMember, stripNulls } from './json.js';
import { childSchema, type ArraySchema, type Schema } from './validate/schema.js';
import { kindSchemas } from './validate/schemas.js';
import type { KindName, PodTemplateSpec } from './types/index.js';

/** The annotation holding the manifest of the last `apply` (like `kubectl.kubernetes.io/last-applied-configuration`). */
export const LAST_APPLIED_ANNOTATION = 'bramble.io/last-applied';
/** The label a Deployment puts on its ReplicaSets and their pods. */
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

// ---- RFC 7386 -------------------------------------------------------------

/**
 * Applies a JSON merge patch (RFC 7386) and returns the result; `target` is
 * not modified. Objects merge member by member, `null` removes a member, and
 * anything else (arrays included) replaces the target value.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return deepClone(patch);
  const out: Record<string, unknown> = isObject(target) ? deepClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else setMember(out, key, mergePatch(out[key], value));
  }
  return out;
}

/**
 * The merge patch that turns `original` into `modified`
 * (`mergePatch(original, createMergePatch(original, modified))` deep-equals
 * `modified`, provided `modified` holds no nulls, which a merge patch cannot
 * express). Equal values give `{}`.
 */
export function createMergePatch(original: unknown, modified: unknown): unknown {
  if (!isObject(original) || !isObject(modified)) return deepClone(modified);
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(original)) {
    if (original[key] !== undefined && modified[key] === undefined) patch[key] = null;
  }
  for (const [key, value] of Object.entries(modified)) {
    if (value === undefined) continue;
    const before = original[key];
    if (isObject(before) && isObject(value)) {
      const sub = createMergePatch(before, value);
      if (isObject(sub) && Object.keys(sub).length > 0) patch[key] = sub;
    } else if (!deepEqual(before, value)) {
      patch[key] = deepClone(value);
    }
  }
  return patch;
}

// ---- apply ----------------------------------------------------------------

/** The manifest recorded by the last apply, if any. Throws `ApiError('BadRequest')` if the annotation is not JSON. */
export function lastAppliedOf(obj: unknown): unknown {
  const annotations = isObject(obj) && isObject(obj.metadata) && isObject(obj.metadata.annotations) ? obj.metadata.annotations : undefined;
  const text = annotations?.[LAST_APPLIED_ANNOTATION];
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(
      'BadRequest',
      `metadata.annotations[${LAST_APPLIED_ANNOTATION}]: Invalid value: not valid JSON (${(error as Error).message}); remove the annotation to apply afresh`,
    );
  }
}

function withoutLastApplied(manifest: unknown): unknown {
  const copy = deepClone(manifest);
  if (isObject(copy) && isObject(copy.metadata) && isObject(copy.metadata.annotations)) {
    delete copy.metadata.annotations[LAST_APPLIED_ANNOTATION];
    if (Object.keys(copy.metadata.annotations).length === 0) delete copy.metadata.annotations;
  }
  return copy;
}

function kindSchema(obj: unknown): Schema | undefined {
  const kind = isObject(obj) ? obj.kind : undefined;
  return typeof kind === 'string' && Object.prototype.hasOwnProperty.call(kindSchemas, kind) ? kindSchemas[kind as KindName] : undefined;
}

/**
 * kubectl's client-side apply as a pure function: the object to store when
 * `manifest` is applied over `live` (undefined = create).
 *
 * - fields in `manifest` are set (objects merge member by member);
 * - fields in `lastApplied` (the previous manifest) but not in `manifest`
 *   are removed: the user deleted them from the file;
 * - everything else in `live` is kept: status, server defaults, fields set
 *   by controllers or by `patch`;
 * - lists of named things merge item by item, like kubectl's strategic merge
 *   (containers and volumes by `name`, env by `name`, container ports by
 *   `containerPort`, volumeMounts by `mountPath`, Service ports by `port`,
 *   taints by `key`, owner references by `uid`; finalizers as a set), so an
 *   allocated `nodePort` or a defaulted `protocol` survives; other lists are
 *   replaced.
 *
 * `lastApplied` defaults to the one recorded in `live`'s
 * `bramble.io/last-applied` annotation. The result records `manifest` there.
 * The caller then applies defaults, validates (`validateUpdate`), and writes
 * with `live`'s resourceVersion.
 */
export function applyManifest<T>(live: T | undefined, manifest: T, lastApplied: unknown = lastAppliedOf(live)): T {
  const config = withoutLastApplied(manifest);
  const original = lastApplied === undefined ? undefined : withoutLastApplied(lastApplied);
  const merged = live === undefined ? stripNulls(config) : threeWay(original, config, live, kindSchema(config));
  if (isObject(merged)) {
    const meta = isObject(merged.metadata) ? merged.metadata : (merged.metadata = {});
    const annotations = isObject(meta.annotations) ? meta.annotations : (meta.annotations = {});
    annotations[LAST_APPLIED_ANNOTATION] = canonicalJson(stripNulls(config));
  }
  return merged as T;
}

function threeWay(original: unknown, modified: unknown, current: unknown, schema: Schema | undefined): unknown {
  if (isObject(modified)) {
    if (!isObject(current)) return stripNulls(modified);
    const out = deepClone(current);
    const orig = isObject(original) ? original : undefined;
    for (const [key, value] of Object.entries(modified)) {
      if (value === null) delete out[key]; // an explicit null in the manifest removes the field
      else if (value !== undefined) setMember(out, key, threeWay(orig?.[key], value, current[key], childSchema(schema, key)));
    }
    if (orig) for (const key of Object.keys(orig)) if (modified[key] === undefined) delete out[key];
    return out;
  }
  if (Array.isArray(modified) && Array.isArray(current) && schema?.t === 'array') {
    if (schema.mergeKey) return mergeKeyedList(original, modified, current, schema);
    if (schema.set) return mergeSet(original, modified, current);
  }
  return stripNulls(modified);
}

function mergeKeyedList(original: unknown, modified: unknown[], current: unknown[], schema: ArraySchema): unknown[] {
  const key = schema.mergeKey as string;
  const keyOf = (item: unknown): unknown => (isObject(item) ? item[key] : undefined);
  const find = (list: unknown[], k: unknown): unknown => list.find((item) => k !== undefined && keyOf(item) === k);
  const origItems = Array.isArray(original) ? original : [];
  const out: unknown[] = modified.map((item) => {
    const k = keyOf(item);
    const cur = find(current, k);
    return cur === undefined ? stripNulls(item) : threeWay(find(origItems, k), item, cur, schema.of);
  });
  for (const cur of current) {
    const k = keyOf(cur);
    const inModified = k !== undefined && find(modified, k) !== undefined;
    const inOriginal = k === undefined ? origItems.some((o) => deepEqual(o, cur)) : find(origItems, k) !== undefined;
    if (!inModified && !inOriginal) out.push(deepClone(cur)); // added by someone else: keep
  }
  return out;
}

function mergeSet(original: unknown, modified: unknown[], current: unknown[]): unknown[] {
  const origItems = Array.isArray(original) ? original : [];
  const out = stripNulls(modified);
  for (const cur of current) {
    const known = (list: unknown[]): boolean => list.some((item) => deepEqual(item, cur));
    if (!known(modified) && !known(origItems)) out.push(deepClone(cur));
  }
  return out;
}

// ---- pod-template-hash ----------------------------------------------------

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK_64 = (1n << 64n) - 1n;
/** Kubernetes' alphabet for generated names: no vowels (no words), no 0/1/3 (no look-alikes). */
export const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
export const POD_TEMPLATE_HASH_LENGTH = 10;

function fnv1a64(text: string): bigint {
  let hash = FNV_OFFSET;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= BigInt(byte);
    hash = (hash * FNV_PRIME) & MASK_64;
  }
  return hash;
}

/**
 * A short, stable name for a pod template, like Kubernetes'
 * `pod-template-hash`: FNV-1a (64-bit) of the template's canonical JSON (keys
 * sorted; any `pod-template-hash` label ignored, so a Deployment's template
 * and its ReplicaSet's hash alike), plus `collisionCount` when given, written
 * as 10 characters of Kubernetes' safe alphabet. Usable as a label value and
 * in object names (`web-7d9f8b6c5x`).
 */
/** The template without the `pod-template-hash` label a ReplicaSet adds (metadata left empty is dropped). */
export function templateWithoutHash(template: PodTemplateSpec): PodTemplateSpec {
  const copy = deepClone(template);
  if (copy.metadata?.labels) {
    delete copy.metadata.labels[POD_TEMPLATE_HASH_LABEL];
    if (Object.keys(copy.metadata.labels).length === 0) delete copy.metadata.labels;
  }
  if (copy.metadata && Object.keys(copy.metadata).length === 0) delete copy.metadata;
  return copy;
}

/** Templates equal apart from the `pod-template-hash` label (Kubernetes' EqualIgnoreHash). */
export function templatesEqualIgnoringHash(a: PodTemplateSpec, b: PodTemplateSpec): boolean {
  return deepEqual(templateWithoutHash(a), templateWithoutHash(b));
}

export function podTemplateHash(template: PodTemplateSpec, collisionCount?: number): string {
  const copy = deepClone(template) as PodTemplateSpec;
  if (copy.metadata?.labels) {
    delete copy.metadata.labels[POD_TEMPLATE_HASH_LABEL];
    if (Object.keys(copy.metadata.labels).length === 0) delete copy.metadata.labels;
  }
  let n = fnv1a64(canonicalJson(copy) + (collisionCount === undefined ? '' : `#${collisionCount}`));
  const base = BigInt(SAFE_ALPHABET.length);
  let out = '';
  for (let i = 0; i < POD_TEMPLATE_HASH_LENGTH; i++) {
    out += SAFE_ALPHABET[Number(n % base)];
    n /= base;
  }
  return out;
}
