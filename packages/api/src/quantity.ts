/**
 * Resource quantities, read the way Kubernetes reads them
 * (`k8s.io/apimachinery/pkg/api/resource`):
 *
 *   quantity ::= signedNumber suffix?
 *   suffix   ::= Ki | Mi | Gi | Ti | Pi | Ei        (powers of 1024)
 *              | m | k | M | G | T | P | E          (powers of 1000; m = 1/1000)
 *              | (e | E) signedInteger              (decimal exponent)
 *
 * CPU is handled in millicores ("500m" = "0.5" = 500), memory in bytes
 * ("128Mi" = 134217728, "1G" = 1000000000). Values are computed exactly
 * (BigInt) and rounded up, as Kubernetes does, to whole millicores or bytes.
 */
import { ApiError } from './errors.js';

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

/** value = (negative ? -1 : 1) * digits * 10^exp10 * 2^exp2 */
export interface ParsedQuantity {
  negative: boolean;
  digits: bigint;
  exp10: number;
  exp2: number;
  format: QuantityFormat;
}

/** A quantity that does not parse; the message names the value and what is expected. */
export class QuantityError extends ApiError {
  constructor(
    readonly value: unknown,
    reason: string,
  ) {
    super('BadRequest', `quantity ${JSON.stringify(String(value))} is invalid: ${reason}`);
    this.name = 'QuantityError';
  }
}

const MAX_QUANTITY_CHARS = 64;
const MAX_EXPONENT = 30;
const QUANTITY_RE = /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei)|(m|k|M|G|T|P|E))?$/;
const DECIMAL_SUFFIX: Record<string, number> = { m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIX: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const EXPECTED =
  'expected a number with an optional suffix: m, k, M, G, T, P, E (powers of 1000), Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), or an exponent such as e3';

export function parseQuantity(input: string | number): ParsedQuantity {
  let text: string;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new QuantityError(input, 'must be a finite number');
    text = String(input);
  } else if (typeof input === 'string') {
    text = input;
  } else {
    throw new QuantityError(input, 'must be a string or a number');
  }
  if (text.length === 0) throw new QuantityError(text, 'must not be empty');
  if (text.length > MAX_QUANTITY_CHARS) throw new QuantityError(text, `must be at most ${MAX_QUANTITY_CHARS} characters`);
  const m = QUANTITY_RE.exec(text);
  if (!m) throw new QuantityError(text, EXPECTED);
  const [, sign, number, exponent, binary, decimal] = m;
  const [whole, fraction = ''] = number.split('.');
  let exp10 = -fraction.length;
  let exp2 = 0;
  let format: QuantityFormat = 'DecimalSI';
  if (exponent !== undefined) {
    const e = Number(exponent);
    if (Math.abs(e) > MAX_EXPONENT) throw new QuantityError(text, `exponent must be between -${MAX_EXPONENT} and ${MAX_EXPONENT}`);
    exp10 += e;
    format = 'DecimalExponent';
  } else if (binary !== undefined) {
    exp2 = BINARY_SUFFIX[binary];
    format = 'BinarySI';
  } else if (decimal !== undefined) {
    exp10 += DECIMAL_SUFFIX[decimal];
  }
  const digits = BigInt((whole + fraction).replace(/^0+(?=.)/, '') || '0');
  return { negative: sign === '-' && digits !== 0n, digits, exp10, exp2, format };
}

/** value * 10^scale10, rounded up (towards +infinity), as a safe integer. */
function scaledCeil(q: ParsedQuantity, scale10: number, original: string | number): number {
  let numerator = q.digits * 2n ** BigInt(q.exp2);
  let denominator = 1n;
  const e = q.exp10 + scale10;
  if (e >= 0) numerator *= 10n ** BigInt(e);
  else denominator = 10n ** BigInt(-e);
  let whole = numerator / denominator;
  const exact = whole * denominator === numerator;
  if (q.negative) whole = -whole;
  else if (!exact) whole += 1n;
  if (whole > BigInt(Number.MAX_SAFE_INTEGER) || whole < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new QuantityError(original, 'is too large');
  }
  return Number(whole);
}

/** CPU in millicores: "500m" -> 500, "0.5" -> 500, 2 -> 2000, "1e-3" -> 1 (rounded up). */
export function parseCpu(input: string | number): number {
  return scaledCeil(parseQuantity(input), 3, input);
}

/** Memory (or any byte size) in bytes: "128Mi" -> 134217728, "1G" -> 1e9, "1e3" -> 1000. */
export function parseMemory(input: string | number): number {
  return scaledCeil(parseQuantity(input), 0, input);
}

/** A plain count, rounded up: "110" -> 110, "1k" -> 1000. */
export function parseQuantityValue(input: string | number): number {
  return scaledCeil(parseQuantity(input), 0, input);
}

/** The problems with a quantity (empty = valid), for validation messages. */
export function quantityErrors(input: unknown): string[] {
  if (typeof input !== 'string' && typeof input !== 'number') return ['must be a string or a number'];
  try {
    parseMemory(input);
    return [];
  } catch (error) {
    if (error instanceof QuantityError) return [error.message.replace(/^quantity ".*" is invalid: /s, '')];
    throw error;
  }
}

/** Millicores as Kubernetes prints them: 500 -> "500m", 2000 -> "2". */
export function formatCpu(millicores: number): string {
  if (!Number.isSafeInteger(millicores)) throw new QuantityError(millicores, 'millicores must be an integer');
  return millicores % 1000 === 0 ? String(millicores / 1000) : `${millicores}m`;
}

const BINARY_UNITS: Array<[string, bigint]> = [
  ['Ei', 1n << 60n],
  ['Pi', 1n << 50n],
  ['Ti', 1n << 40n],
  ['Gi', 1n << 30n],
  ['Mi', 1n << 20n],
  ['Ki', 1n << 10n],
];
const DECIMAL_UNITS: Array<[string, bigint]> = [
  ['E', 10n ** 18n],
  ['P', 10n ** 15n],
  ['T', 10n ** 12n],
  ['G', 10n ** 9n],
  ['M', 10n ** 6n],
  ['k', 10n ** 3n],
];

/**
 * Bytes with the largest exact suffix: binary first (134217728 -> "128Mi"),
 * then decimal (1000000000 -> "1G"), else plain ("1536").
 */
export function formatMemory(bytes: number): string {
  if (!Number.isSafeInteger(bytes)) throw new QuantityError(bytes, 'bytes must be an integer');
  if (bytes === 0) return '0';
  const value = BigInt(bytes);
  for (const units of [BINARY_UNITS, DECIMAL_UNITS]) {
    for (const [suffix, size] of units) {
      if (value % size === 0n) return `${value / size}${suffix}`;
    }
  }
  return String(bytes);
}
