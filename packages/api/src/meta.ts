/** Small helpers on object metadata that controllers and the server share. */
import { SAFE_ALPHABET } from './patch.js';
import type { ObjectMeta, OwnerReference } from './types/index.js';

interface Owned {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
}

/** The owner reference marked `controller: true`, if any. */
export function controllerRef(obj: { metadata?: ObjectMeta }): OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

/** An owner reference to `owner` (which must have a name and a uid), as a controller by default. */
export function ownerReferenceTo(owner: Owned, options: { controller?: boolean; blockOwnerDeletion?: boolean } = {}): OwnerReference {
  const { name, uid } = owner.metadata;
  if (!name || !uid) throw new Error(`ownerReferenceTo: ${owner.kind} needs metadata.name and metadata.uid (got ${JSON.stringify({ name, uid })})`);
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name,
    uid,
    controller: options.controller ?? true,
    blockOwnerDeletion: options.blockOwnerDeletion ?? true,
  };
}

export const GENERATED_SUFFIX_LENGTH = 5;
const MAX_GENERATED_PREFIX_LENGTH = 63 - GENERATED_SUFFIX_LENGTH;

/** A random suffix from Kubernetes' safe alphabet, from an injected random source (`() => [0, 1)`). */
export function randomSuffix(random: () => number, length = GENERATED_SUFFIX_LENGTH): string {
  let out = '';
  for (let i = 0; i < length; i++) out += SAFE_ALPHABET[Math.floor(random() * SAFE_ALPHABET.length) % SAFE_ALPHABET.length];
  return out;
}

/** A name from `generateName` and a suffix, as Kubernetes makes it: the prefix cut to 58 characters. */
export function nameFromGenerateName(prefix: string, suffix: string): string {
  return `${prefix.slice(0, MAX_GENERATED_PREFIX_LENGTH)}${suffix}`;
}

/** True once deletion has been requested (the object waits for finalizers or its grace period). */
export function isBeingDeleted(obj: { metadata?: ObjectMeta }): boolean {
  return obj.metadata?.deletionTimestamp !== undefined;
}
