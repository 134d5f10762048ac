/**
 * Objects in the key-value store: JSON as UTF-8 bytes (the KV's strings are byte
 * strings, one code unit per byte), without `metadata.resourceVersion`, which is
 * the key's mod revision and filled in on every read.
 */
import { ApiError, deepClone } from '@bramble/api';
import type { KeyValue } from '@bramble/kv';
import type { Resource } from '@bramble/api';

export function decodeObject<T extends Resource = Resource>(kv: KeyValue): T {
  const obj = JSON.parse(Buffer.from(kv.value, 'latin1').toString('utf8')) as T;
  obj.metadata = obj.metadata ?? {};
  obj.metadata.resourceVersion = String(kv.modRevision);
  return obj;
}

/** A copy of `obj` without its resourceVersion. */
export function withoutResourceVersion<T extends Resource>(obj: T): T {
  const copy = deepClone(obj);
  if (copy.metadata) delete copy.metadata.resourceVersion;
  return copy;
}

/** The stored form of `obj`; throws naming the size and the limit when it is over `maxBytes`. */
export function encodeObject(obj: Resource, maxBytes: number): string {
  const bytes = Buffer.from(JSON.stringify(withoutResourceVersion(obj)), 'utf8');
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
