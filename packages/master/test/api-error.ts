// The ApiError a promise rejects with (tests of the Resources API).
import { ApiError } from '@bramble/api';

/** Resolves with the ApiError `p` rejects with; anything else (or no rejection) fails the test. */
export async function apiError(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}
