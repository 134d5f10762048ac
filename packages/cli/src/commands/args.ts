// Parsers for command-line values; a bad value is a usage error (exit code 2) naming what was expected.
import { InvalidArgumentError } from 'commander';
import { parseDurationMs } from '../duration.js';
import { parseInteger } from '../txn-parser.js';

export function nonNegativeIntArg(value: string): number {
  const n = parseInteger(value);
  if (n === undefined) throw new InvalidArgumentError('expected a non-negative integer.');
  return n;
}

export function positiveIntArg(value: string): number {
  const n = parseInteger(value);
  if (n === undefined || n === 0) throw new InvalidArgumentError('expected a positive integer.');
  return n;
}

/** Lease IDs: decimal (as printed by "bramble lease grant"), or hex with 0x. */
export function leaseIdArg(value: string): number {
  const n = parseInteger(value);
  if (n === undefined || n === 0) throw new InvalidArgumentError('expected a lease ID: a positive integer (decimal, or hex with 0x).');
  return n;
}

/** A TTL in seconds: "60", or a duration in whole seconds like "90s" or "2m". */
export function ttlSecondsArg(value: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms <= 0 || ms % 1000 !== 0) throw new InvalidArgumentError('expected a TTL in whole seconds, like 60 or 2m.');
  return ms / 1000;
}

/** --timeout: a positive duration like 500ms, 5s, 1m. */
export function durationMsArg(value: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms <= 0) throw new InvalidArgumentError('expected a duration like 500ms, 5s or 1m.');
  return ms;
}
