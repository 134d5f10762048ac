import { KvError } from './errors.js';
import { KeyHistory, KeyVersion } from './history.js';
import { checkKey, describe } from './keys.js';

/**
 * Snapshot format, version 1: UTF-8 JSON, canonical (keys sorted, leases
 * sorted by id), so equal states give byte-identical snapshots.
 *
 * ```
 * { "format": "bramble-kv-snapshot", "version": 1,
 *   "revision": 57, "compactRevision": 40,
 *   "leases": [[id, ttlSeconds], ...],
 *   "keys": [[key, [modRevision, sub, value|null, createRevision, version, lease, ...]], ...] }
 * ```
 * Each key's versions are flattened six numbers/strings at a time, oldest
 * first; value null is a tombstone (its other fields 0). JSON escapes every
 * control character and lone surrogate, so any byte string round-trips.
 */
export const SNAPSHOT_FORMAT = 'bramble-kv-snapshot';
export const SNAPSHOT_VERSION = 1;
const FIELDS_PER_VERSION = 6;

export interface SnapshotState {
  revision: number;
  compactRevision: number;
  /** In key order. */
  histories: readonly KeyHistory[];
  /** Sorted by id. */
  leases: [id: number, ttlSeconds: number][];
}

export function encodeSnapshot(s: SnapshotState): string {
  const keys: [string, (number | string | null)[]][] = s.histories.map((h) => {
    const flat: (number | string | null)[] = new Array(h.versions.length * FIELDS_PER_VERSION);
    let j = 0;
    for (const v of h.versions) {
      flat[j++] = v.modRevision;
      flat[j++] = v.sub;
      flat[j++] = v.value;
      flat[j++] = v.createRevision;
      flat[j++] = v.version;
      flat[j++] = v.lease;
    }
    return [h.key, flat];
  });
  return JSON.stringify({
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    revision: s.revision,
    compactRevision: s.compactRevision,
    leases: s.leases,
    keys,
  });
}

/** Parses and checks a snapshot; throws KvError 'invalid' naming the first thing wrong. */
export function decodeSnapshot(text: string): SnapshotState {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new KvError('invalid', `snapshot: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof doc !== 'object' || doc === null) throw new KvError('invalid', `snapshot: must be a JSON object (got ${describe(doc)})`);
  const d = doc as Record<string, unknown>;
  if (d.format !== SNAPSHOT_FORMAT) throw new KvError('invalid', `snapshot.format: must be ${JSON.stringify(SNAPSHOT_FORMAT)} (got ${describe(d.format)})`);
  if (d.version !== SNAPSHOT_VERSION) throw new KvError('invalid', `snapshot.version: unsupported format version ${describe(d.version)} (this build reads ${SNAPSHOT_VERSION})`);
  const revision = int(d.revision, 'snapshot.revision', 1);
  const compactRevision = int(d.compactRevision, 'snapshot.compactRevision', 0);
  if (compactRevision > revision) {
    throw new KvError('invalid', `snapshot.compactRevision: ${compactRevision} is above snapshot.revision ${revision}`);
  }

  if (!Array.isArray(d.leases)) throw new KvError('invalid', `snapshot.leases: must be an array (got ${describe(d.leases)})`);
  const leases: [number, number][] = [];
  let lastId = 0;
  d.leases.forEach((l, i) => {
    if (!Array.isArray(l) || l.length !== 2) throw new KvError('invalid', `snapshot.leases[${i}]: must be [id, ttlSeconds] (got ${describe(l)})`);
    const id = int(l[0], `snapshot.leases[${i}][0]`, 1);
    if (id <= lastId) throw new KvError('invalid', `snapshot.leases[${i}]: ids must be strictly increasing (${id} after ${lastId})`);
    lastId = id;
    leases.push([id, int(l[1], `snapshot.leases[${i}][1]`, 1)]);
  });

  if (!Array.isArray(d.keys)) throw new KvError('invalid', `snapshot.keys: must be an array (got ${describe(d.keys)})`);
  const histories: KeyHistory[] = [];
  let lastKey: string | undefined;
  d.keys.forEach((entry, i) => {
    const field = `snapshot.keys[${i}]`;
    if (!Array.isArray(entry) || entry.length !== 2 || !Array.isArray(entry[1])) {
      throw new KvError('invalid', `${field}: must be [key, versions] (got ${describe(entry)})`);
    }
    const key = checkKey(entry[0], `${field}[0]`);
    if (lastKey !== undefined && key <= lastKey) throw new KvError('invalid', `${field}: keys must be strictly increasing (${describe(key)} after ${describe(lastKey)})`);
    lastKey = key;
    const flat = entry[1] as unknown[];
    if (flat.length === 0 || flat.length % FIELDS_PER_VERSION !== 0) {
      throw new KvError('invalid', `${field}[1]: must hold a non-empty multiple of ${FIELDS_PER_VERSION} fields (got ${flat.length})`);
    }
    const h = new KeyHistory(key);
    let lastRev = 0;
    for (let j = 0; j < flat.length; j += FIELDS_PER_VERSION) {
      const modRevision = flat[j];
      const sub = flat[j + 1];
      const value = flat[j + 2];
      const createRevision = flat[j + 3];
      const version = flat[j + 4];
      const lease = flat[j + 5];
      // Field paths are built only on failure: this loop runs once per retained version.
      const where = () => `${field}[1][${j}..${j + FIELDS_PER_VERSION - 1}]`;
      if (!isInt(modRevision, lastRev + 1) || modRevision > revision) {
        throw new KvError('invalid', `${where()}: modRevision ${describe(modRevision)} must be an integer above ${lastRev} and at most snapshot.revision ${revision}`);
      }
      lastRev = modRevision;
      if (!isInt(sub, 0) || !isInt(createRevision, 0) || !isInt(version, 0) || !isInt(lease, 0)) {
        throw new KvError('invalid', `${where()}: sub, createRevision, version and lease must be integers >= 0`);
      }
      if (value !== null && typeof value !== 'string') throw new KvError('invalid', `${where()} value: must be a string or null (got ${describe(value)})`);
      if (value === null ? createRevision + version + lease !== 0 : createRevision < 1 || createRevision > modRevision || version < 1) {
        throw new KvError('invalid', `${where()}: inconsistent version (createRevision ${createRevision}, version ${version}, lease ${lease}, tombstone ${value === null})`);
      }
      h.versions.push(new KeyVersion(modRevision, sub, value, createRevision, version, lease));
    }
    histories.push(h);
  });
  return { revision, compactRevision, histories, leases };
}

function isInt(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
}

function int(v: unknown, field: string, min: number): number {
  if (!Number.isSafeInteger(v) || (v as number) < min) throw new KvError('invalid', `${field}: must be an integer >= ${min} (got ${describe(v)})`);
  return v as number;
}
