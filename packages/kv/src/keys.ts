import { KvError } from './errors.js';

/**
 * The range end that covers every key starting with `prefix` (etcd's
 * GetPrefixRangeEnd): increment the last byte below 0xff, dropping trailing
 * 0xff bytes. A prefix of only 0xff bytes (or '') has no such end: '\0' is
 * returned, meaning "every key >= prefix".
 */
export function prefixEnd(prefix: string): string {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const byte = prefix.charCodeAt(i);
    if (byte < 0xff) return prefix.slice(0, i) + String.fromCharCode(byte + 1);
  }
  return '\0';
}

/** A normalized `[from, to)` interval over keys; `to` null = unbounded; `single` = just `from`. */
export interface KeyInterval {
  readonly from: string;
  readonly to: string | null;
  readonly single: boolean;
}

/** etcd convention: rangeEnd '' = single key, '\0' = every key >= key, else [key, rangeEnd). */
export function keyInterval(key: string, rangeEnd: string | undefined): KeyInterval {
  if (rangeEnd === undefined || rangeEnd === '') return { from: key, to: null, single: true };
  if (rangeEnd === '\0') return { from: key, to: null, single: false };
  return { from: key, to: rangeEnd, single: false };
}

export function inInterval(key: string, iv: KeyInterval): boolean {
  if (iv.single) return key === iv.from;
  return key >= iv.from && (iv.to === null || key < iv.to);
}

/** Do two intervals share at least one possible key? */
export function intervalsOverlap(a: KeyInterval, b: KeyInterval): boolean {
  if (a.single) return inInterval(a.from, b);
  if (b.single) return inInterval(b.from, a);
  const aBeforeB = a.to !== null && a.to <= b.from;
  const bBeforeA = b.to !== null && b.to <= a.from;
  return !aBeforeB && !bBeforeA;
}

const NON_BYTE = /[^\x00-\xff]/;

/** A key must be a non-empty byte string (code units 0x00-0xff). */
export function checkKey(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new KvError('invalid', `${field}: must be a string (got ${describe(value)})`);
  if (value === '') throw new KvError('invalid', `${field}: must not be empty`);
  checkBytes(value, field);
  return value;
}

/** A range end: undefined, '' (single key), '\0' (from key), or a byte string. */
export function checkRangeEnd(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new KvError('invalid', `${field}: must be a string (got ${describe(value)})`);
  checkBytes(value, field);
  return value;
}

function checkBytes(value: string, field: string): void {
  const m = NON_BYTE.exec(value);
  if (m) {
    throw new KvError(
      'invalid',
      `${field}: must be a byte string (code units 0x00-0xff); code unit 0x${m[0].charCodeAt(0).toString(16)} at offset ${m.index}`,
    );
  }
}

/** Short, safe rendering of an arbitrary value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}
