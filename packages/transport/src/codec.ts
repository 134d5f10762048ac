// Conversion between the Raft core's Message and the object shape that
// @grpc/proto-loader encodes and decodes for proto/raft.proto (snake_case keys,
// uint64 as numbers, enums as names, bytes as Buffers). Plain property copies:
// no JSON, and entry data is passed by reference both ways (on receipt it is a
// slice of the received gRPC message, not a copy).
import { status as GrpcStatus } from '@grpc/grpc-js';
import { EntryType, MessageType, type Entry, type Message, type Snapshot } from '@bramble/raft';

export interface WireEntry {
  term: number;
  index: number;
  type: string | number;
  data: Uint8Array;
}

export interface WireConfState {
  voters: string[];
  learners: string[];
}

export interface WireSnapshot {
  metadata: { index: number; term: number; conf_state: WireConfState | null } | null;
  data: Uint8Array;
}

export interface WireMessage {
  type: string | number;
  from: string;
  to: string;
  term: number;
  log_term: number;
  index: number;
  entries: WireEntry[];
  commit: number;
  reject: boolean;
  reject_hint: number;
  snapshot?: WireSnapshot | null;
  context?: Uint8Array | null;
  transferee?: string | null;
}

/** Fields every request on RaftPeer carries. */
export interface WireHeader {
  cluster_id: string;
  from: string;
  to: string;
}

export interface WireBatch extends WireHeader {
  messages: WireMessage[];
  closing?: boolean;
}

export interface WireStreamAck {
  cluster_id: string;
  member: string;
}

export interface WireSnapshotChunk extends WireHeader {
  message?: WireMessage | null;
  total_bytes: number;
  offset: number;
  data: Uint8Array;
  last: boolean;
  sha256: Uint8Array;
}

export interface WireSnapshotAck {
  received_bytes: number;
}

/** A request the receiver refuses; `code` is the gRPC status it ends the call with. */
export class WireError extends Error {
  constructor(
    readonly code: GrpcStatus,
    message: string,
  ) {
    super(message);
    this.name = 'WireError';
  }

  /** The shape grpc-js server calls accept as an error status. */
  toStatus(): { code: GrpcStatus; details: string } {
    return { code: this.code, details: this.message };
  }
}

const MESSAGE_TYPES: ReadonlySet<string> = new Set<string>(Object.values(MessageType));
const ENTRY_TYPE_BY_NAME: Readonly<Record<string, EntryType>> = {
  EntryNormal: EntryType.Normal,
  EntryConfChange: EntryType.ConfChange,
};
const EMPTY = Buffer.alloc(0);

// ------------------------------------------------------------------ to the wire

export function entryToWire(e: Entry): WireEntry {
  // EntryType is numeric in TypeScript; the encoder accepts enum numbers as well as names.
  return { term: e.term, index: e.index, type: e.type, data: e.data };
}

/** `withSnapshotData: false` leaves the snapshot's data out (SendSnapshot streams it separately). */
export function messageToWire(m: Message, withSnapshotData = true): WireMessage {
  const entries = new Array<WireEntry>(m.entries.length);
  for (let i = 0; i < m.entries.length; i++) entries[i] = entryToWire(m.entries[i]);
  const w: WireMessage = {
    type: m.type,
    from: m.from,
    to: m.to,
    term: m.term,
    log_term: m.logTerm,
    index: m.index,
    entries,
    commit: m.commit,
    reject: m.reject,
    reject_hint: m.rejectHint,
  };
  if (m.snapshot) w.snapshot = snapshotToWire(m.snapshot, withSnapshotData);
  if (m.context !== undefined) w.context = m.context;
  if (m.transferee !== undefined) w.transferee = m.transferee;
  return w;
}

function snapshotToWire(s: Snapshot, withData: boolean): WireSnapshot {
  return {
    metadata: {
      index: s.meta.index,
      term: s.meta.term,
      conf_state: { voters: s.meta.confState.voters, learners: s.meta.confState.learners },
    },
    data: withData ? s.data : EMPTY,
  };
}

// ------------------------------------------------------------------ from the wire

function u64(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new WireError(GrpcStatus.INVALID_ARGUMENT, `${field}: must be an integer in [0, 2^53) (got ${String(v)})`);
  }
  return v;
}

function bytes(v: unknown, field: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new WireError(GrpcStatus.INVALID_ARGUMENT, `${field}: must be bytes (got ${typeof v})`);
  return v;
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new WireError(GrpcStatus.INVALID_ARGUMENT, `${field}: must be a string (got ${typeof v})`);
  return v;
}

function strings(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) throw new WireError(GrpcStatus.INVALID_ARGUMENT, `${field}: must be a list of strings`);
  for (let i = 0; i < v.length; i++) str(v[i], `${field}[${i}]`);
  return v as string[];
}

export function entryFromWire(w: WireEntry, field: string): Entry {
  const type = typeof w.type === 'string' ? ENTRY_TYPE_BY_NAME[w.type] : undefined;
  if (type === undefined) {
    throw new WireError(GrpcStatus.INVALID_ARGUMENT, `${field}.type: unknown entry type ${JSON.stringify(w.type)}`);
  }
  return { term: u64(w.term, `${field}.term`), index: u64(w.index, `${field}.index`), type, data: bytes(w.data, `${field}.data`) };
}

/**
 * A decoded wire message as a Raft Message, checking what the decoder cannot:
 * a known type, indexes and terms within 2^53, well-formed entries and snapshot.
 * `field` names the message in errors ("messages[3]").
 */
export function messageFromWire(w: WireMessage, field: string): Message {
  if (typeof w.type !== 'string' || !MESSAGE_TYPES.has(w.type)) {
    throw new WireError(GrpcStatus.INVALID_ARGUMENT, `${field}.type: unknown message type ${JSON.stringify(w.type)}`);
  }
  const wentries = w.entries;
  if (!Array.isArray(wentries)) throw new WireError(GrpcStatus.INVALID_ARGUMENT, `${field}.entries: must be a list`);
  const entries = new Array<Entry>(wentries.length);
  for (let i = 0; i < wentries.length; i++) entries[i] = entryFromWire(wentries[i], `${field}.entries[${i}]`);
  const m: Message = {
    type: w.type as MessageType,
    from: str(w.from, `${field}.from`),
    to: str(w.to, `${field}.to`),
    term: u64(w.term, `${field}.term`),
    logTerm: u64(w.log_term, `${field}.log_term`),
    index: u64(w.index, `${field}.index`),
    entries,
    commit: u64(w.commit, `${field}.commit`),
    reject: w.reject === true,
    rejectHint: u64(w.reject_hint, `${field}.reject_hint`),
  };
  if (w.snapshot) m.snapshot = snapshotFromWire(w.snapshot, `${field}.snapshot`);
  if (w.context !== undefined && w.context !== null) m.context = bytes(w.context, `${field}.context`);
  if (w.transferee !== undefined && w.transferee !== null) m.transferee = str(w.transferee, `${field}.transferee`);
  return m;
}

export function snapshotFromWire(w: WireSnapshot, field: string): Snapshot {
  const meta = w.metadata;
  if (!meta) throw new WireError(GrpcStatus.INVALID_ARGUMENT, `${field}.metadata: missing`);
  const conf = meta.conf_state;
  return {
    meta: {
      index: u64(meta.index, `${field}.metadata.index`),
      term: u64(meta.term, `${field}.metadata.term`),
      confState: {
        voters: conf ? strings(conf.voters, `${field}.metadata.conf_state.voters`) : [],
        learners: conf ? strings(conf.learners, `${field}.metadata.conf_state.learners`) : [],
      },
    },
    data: bytes(w.data, `${field}.data`),
  };
}

// ------------------------------------------------------------------ sizes

/** Fixed per-message allowance for the envelope fields in size estimates. */
export const MESSAGE_OVERHEAD_BYTES = 64;
/** Per-entry allowance (term, index, type, tags and lengths) in size estimates. */
export const ENTRY_OVERHEAD_BYTES = 32;

/**
 * An upper estimate of `m`'s encoded size, used to bound queues and batches
 * (not exact: varints make the real size a little smaller).
 */
export function messageSizeBytes(m: Message): number {
  let size = MESSAGE_OVERHEAD_BYTES + m.from.length + m.to.length;
  const entries = m.entries;
  for (let i = 0; i < entries.length; i++) size += entries[i].data.length + ENTRY_OVERHEAD_BYTES;
  if (m.context) size += m.context.length;
  if (m.transferee) size += m.transferee.length;
  if (m.snapshot) {
    size += m.snapshot.data.length + MESSAGE_OVERHEAD_BYTES;
    for (const id of m.snapshot.meta.confState.voters) size += id.length + 2;
    for (const id of m.snapshot.meta.confState.learners) size += id.length + 2;
  }
  return size;
}
