// Sorting failures from the masters: worth retrying (nobody answered, no leader) or a verdict.
import { isApiError } from '@bramble/api';
import { isBrambleError, type BrambleErrorCode } from '@bramble/client';

const TRANSIENT_CODES: ReadonlySet<BrambleErrorCode> = new Set<BrambleErrorCode>([
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'UNKNOWN_OUTCOME',
  'CANCELLED',
  'RESOURCE_EXHAUSTED',
  'ABORTED',
  'INTERNAL',
  'UNKNOWN',
]);

/** The masters could not answer now (unreachable, no leader, overloaded); the same request may work later. */
export function isTransient(err: unknown): boolean {
  if (isBrambleError(err)) return TRANSIENT_CODES.has(err.code);
  if (isApiError(err)) return err.code === 'ServiceUnavailable' || err.code === 'Timeout' || err.code === 'TooManyRequests' || err.code === 'InternalError';
  return false;
}

/** The master does not know this node (deleted by an admin, or never joined there). */
export function isNodeUnknown(err: unknown): boolean {
  return (isBrambleError(err) && err.code === 'NOT_FOUND') || isApiError(err, 'NotFound');
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The join was refused (bad token or credential): starting again will not help. */
export class JoinRejectedError extends Error {
  constructor(cause: unknown) {
    super(`join rejected: ${errorMessage(cause)}`, { cause });
    this.name = 'JoinRejectedError';
  }
}
