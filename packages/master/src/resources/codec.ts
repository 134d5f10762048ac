/**
 * Objects in the key-value store: JSON as UTF-8 bytes (the KV's strings are byte
 * strings, one code unit per byte), without `metadata.resourceVersion`, which is
 * the key's mod revision and filled in on every read.
 */
import { ApiError, deepClone, deepEqual, deepFreeze } from '@bramble/api';

export { deepFreeze };
import type { KeyValue } from '@bramble/kv';
import type { Resource } from '@bramble/api';

let decodes = 0;

/** How many times a stored object has been JSON-parsed (for tests and profiling). */
export function decodeCount(): number {
  return decodes;
}

/** A fresh, mutable object for `kv`: the caller owns it. */
export function decodeObject<T extends Resource = Resource>(kv: KeyValue): T {
  decodes++;
  const obj = JSON.parse(Buffer.from(kv.value, 'latin1').toString('utf8')) as T;
  obj.metadata = obj.metadata ?? {};
  obj.metadata.resourceVersion = String(kv.modRevision);
  return obj;
}

/**
 * Watch events: the key-value store hands every watcher of a revision the same
 * KeyValue objects, so each version is parsed once however many watchers see it.
 * The shared object is deep-frozen: nobody may change what another watcher holds.
 */
const shared = new WeakMap<KeyValue, Resource>();

/** The decoded object for `kv`, shared and frozen; decoded on first use. */
export function decodeShared<T extends Resource = Resource>(kv: KeyValue): T {
  let obj = shared.get(kv);
  if (obj === undefined) {
    obj = deepFreeze(decodeObject(kv));
    shared.set(kv, obj);
  }
  return obj as T;
}

/**
 * `obj` with its resourceVersion hidden, without copying: a shallow copy whose
 * metadata.resourceVersion is undefined (JSON.stringify and deepEqual skip
 * undefined members). Only for reading; it shares everything else with `obj`.
 */
function hideResourceVersion<T extends Resource>(obj: T): T {
  if (typeof obj.metadata !== 'object' || obj.metadata === null) return obj;
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: undefined } };
}

/** Equal apart from the resourceVersion (writing `next` over `stored` would change nothing). */
export function equalButResourceVersion(stored: Resource, next: Resource): boolean {
  return deepEqual(hideResourceVersion(stored), hideResourceVersion(next));
}

/** A copy of `obj` without its resourceVersion. */
export function withoutResourceVersion<T extends Resource>(obj: T): T {
  const copy = deepClone(obj);
  if (copy.metadata) delete copy.metadata.resourceVersion;
  return copy;
}

/** The stored form of `obj`; throws naming the size and the limit when it is over `maxBytes`. */
export function encodeObject(obj: Resource, maxBytes: number): string {
  const bytes = Buffer.from(JSON.stringify(hideResourceVersion(obj)), 'utf8');
  if (bytes.length > maxBytes) {
    const name = obj.metadata?.name ?? '';
    throw new ApiError(
      'BadRequest',
      `${obj.kind} ${JSON.stringify(name)} is too large: ${bytes.length} bytes, the limit is ${maxBytes} bytes (--max-request-bytes)`,
      { kind: obj.kind, name },
    );
  }
  return bytes.toString('latin1');
}
