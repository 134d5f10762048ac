// Value encodings. Entries are binary (they are most of the bytes written);
// the small metadata records are JSON, checked field by field when read back.

import { EntryType, type ConfState, type Entry, type HardState, type SnapshotMeta } from '@bramble/raft';
import { StorageCorruptionError } from './errors.js';
import { readUint64, writeUint64 } from './keys.js';

/** Entry value: type (1 byte) | term (8 bytes, big-endian) | data. The index is in the key. */
const ENTRY_HEADER_BYTES = 9;

export function encodeEntry(e: Entry): Buffer {
  const value = Buffer.allocUnsafe(ENTRY_HEADER_BYTES + e.data.length);
  value[0] = e.type;
  writeUint64(value, 1, e.term);
  value.set(e.data, ENTRY_HEADER_BYTES);
  return value;
}

/** Decode an entry value; `data` is a view into `value`, not a copy. */
export function decodeEntry(index: number, value: Uint8Array): Entry {
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.length);
  if (buf.length < ENTRY_HEADER_BYTES) {
    throw new StorageCorruptionError(`entry ${index}: value is ${buf.length} bytes, shorter than its ${ENTRY_HEADER_BYTES}-byte header`);
  }
  const type = buf[0];
  if (type !== EntryType.Normal && type !== EntryType.ConfChange) throw new StorageCorruptionError(`entry ${index}: unknown entry type ${type}`);
  const term = readUint64(buf, 1);
  if (term === undefined) throw new StorageCorruptionError(`entry ${index}: term does not fit in 2^53`);
  const data = new Uint8Array(buf.buffer, buf.byteOffset + ENTRY_HEADER_BYTES, buf.length - ENTRY_HEADER_BYTES);
  return { index, term, type, data };
}

/** What the `sm` record holds: the snapshot's metadata and the point the log is compacted to. */
export interface SnapshotRecord {
  meta: SnapshotMeta;
  /** Entries up to and including `compacted.index` are gone; `compacted.term` is the term of that last one. */
  compacted: { index: number; term: number };
}

/** What the `c` record holds: the configuration the host applied at `appliedIndex`. */
export interface ConfRecord {
  appliedIndex: number;
  confState: ConfState;
}

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function parseJson(what: string, value: Uint8Array): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.length).toString('utf8'));
  } catch (err) {
    throw new StorageCorruptionError(`${what}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null) throw new StorageCorruptionError(`${what}: want an object, got ${JSON.stringify(parsed)}`);
  return parsed as Record<string, unknown>;
}

function index(what: string, field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new StorageCorruptionError(`${what}: ${field} must be a non-negative integer (got ${JSON.stringify(v)})`);
  }
  return v;
}

function ids(what: string, field: string, v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new StorageCorruptionError(`${what}: ${field} must be a list of member ids (got ${JSON.stringify(v)})`);
  }
  return [...(v as string[])];
}

function confState(what: string, field: string, v: unknown): ConfState {
  if (typeof v !== 'object' || v === null) throw new StorageCorruptionError(`${what}: ${field} must be an object (got ${JSON.stringify(v)})`);
  const o = v as Record<string, unknown>;
  return { voters: ids(what, `${field}.voters`, o.voters), learners: ids(what, `${field}.learners`, o.learners) };
}

export function decodeHardState(value: Uint8Array): HardState {
  const what = "hard state record 'h'";
  const o = parseJson(what, value);
  if (typeof o.vote !== 'string') throw new StorageCorruptionError(`${what}: vote must be a string (got ${JSON.stringify(o.vote)})`);
  return { term: index(what, 'term', o.term), vote: o.vote, commit: index(what, 'commit', o.commit) };
}

export function decodeConfRecord(value: Uint8Array): ConfRecord {
  const what = "conf state record 'c'";
  const o = parseJson(what, value);
  return { appliedIndex: index(what, 'appliedIndex', o.appliedIndex), confState: confState(what, 'confState', o.confState) };
}

export function decodeSnapshotRecord(value: Uint8Array): SnapshotRecord {
  const what = "snapshot meta record 'sm'";
  const o = parseJson(what, value);
  const meta = (o.meta ?? {}) as Record<string, unknown>;
  const compacted = (o.compacted ?? {}) as Record<string, unknown>;
  return {
    meta: { index: index(what, 'meta.index', meta.index), term: index(what, 'meta.term', meta.term), confState: confState(what, 'meta.confState', meta.confState) },
    compacted: { index: index(what, 'compacted.index', compacted.index), term: index(what, 'compacted.term', compacted.term) },
  };
}

export function encodeSnapshotRecord(meta: SnapshotMeta, compacted: { index: number; term: number }): Buffer {
  const record: SnapshotRecord = {
    meta: { index: meta.index, term: meta.term, confState: { voters: [...meta.confState.voters], learners: [...meta.confState.learners] } },
    compacted: { index: compacted.index, term: compacted.term },
  };
  return encodeJson(record);
}
