// Key layout of the one LevelDB a master keeps. Single-letter prefixes keep the
// records apart; entry keys carry a fixed-width big-endian index, so LevelDB's
// byte order is numeric order and a range scan reads the log in sequence.

import { StorageCorruptionError } from './errors.js';

/** Prefix of entry keys: `e` + 8-byte big-endian index. */
export const ENTRY_PREFIX = 0x65; // 'e'
export const ENTRY_KEY_BYTES = 9;
/** Every entry key sorts in [ENTRY_RANGE_START, ENTRY_RANGE_END). */
export const ENTRY_RANGE_START = Buffer.from([ENTRY_PREFIX]);
export const ENTRY_RANGE_END = Buffer.from([ENTRY_PREFIX + 1]);

/** Format marker, written once when the database is created. */
export const VERSION_KEY = Buffer.from('v');
/** Hard state: term, vote, commit. */
export const HARD_STATE_KEY = Buffer.from('h');
/** The configuration the host last applied, with the index it was applied at. */
export const CONF_STATE_KEY = Buffer.from('c');
/** Snapshot metadata, including the point the log was compacted to. */
export const SNAPSHOT_META_KEY = Buffer.from('sm');
/** Snapshot data (the state machine's serialized state), raw bytes. */
export const SNAPSHOT_DATA_KEY = Buffer.from('sd');

export const FORMAT_VERSION = 'bramble-storage/1';

const TWO_POW_32 = 2 ** 32;

/** Write a non-negative safe integer as 8 big-endian bytes. */
export function writeUint64(buf: Buffer, offset: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a non-negative safe integer: ${n}`);
  buf.writeUInt32BE(Math.floor(n / TWO_POW_32), offset);
  buf.writeUInt32BE(n >>> 0, offset + 4);
}

/** Read 8 big-endian bytes written by writeUint64; undefined when above 2^53. */
export function readUint64(buf: Buffer, offset: number): number | undefined {
  const hi = buf.readUInt32BE(offset);
  const lo = buf.readUInt32BE(offset + 4);
  const n = hi * TWO_POW_32 + lo;
  return Number.isSafeInteger(n) ? n : undefined;
}

export function entryKey(index: number): Buffer {
  const key = Buffer.allocUnsafe(ENTRY_KEY_BYTES);
  key[0] = ENTRY_PREFIX;
  writeUint64(key, 1, index);
  return key;
}

export function entryIndexOf(key: Buffer): number {
  const index = key.length === ENTRY_KEY_BYTES && key[0] === ENTRY_PREFIX ? readUint64(key, 1) : undefined;
  if (index === undefined) throw new StorageCorruptionError(`malformed entry key ${key.toString('hex')}: want 'e' + 8-byte index`);
  return index;
}
