/**
 * ApiError -> gRPC status: the code class, `details` = the message, and the trailer
 * `bramble-api-error-bin` = JSON {code, message, kind, name, fieldErrors} from which
 * clients rebuild the exact ApiError (proto/api.proto).
 */
import * as grpc from '@grpc/grpc-js';
import { ApiError, type ApiErrorCode } from '@bramble/api';
import { KvError } from '@bramble/kv';
import { HostError } from '../raft-host.js';
import { UnavailableError } from './backend.js';

export const API_ERROR_TRAILER = 'bramble-api-error-bin';
/** Same as the client's RETRY_SAFE_METADATA: the request was certainly not applied. */
export const RETRY_SAFE_TRAILER = 'bramble-retry-safe';

const GRPC_CODE: Record<ApiErrorCode, grpc.status> = {
  NotFound: grpc.status.NOT_FOUND,
  AlreadyExists: grpc.status.ALREADY_EXISTS,
  Conflict: grpc.status.ABORTED,
  Invalid: grpc.status.INVALID_ARGUMENT,
  BadRequest: grpc.status.INVALID_ARGUMENT,
  Gone: grpc.status.OUT_OF_RANGE,
  Expired: grpc.status.OUT_OF_RANGE,
  Forbidden: grpc.status.PERMISSION_DENIED,
  Timeout: grpc.status.DEADLINE_EXCEEDED,
  ServiceUnavailable: grpc.status.UNAVAILABLE,
  TooManyRequests: grpc.status.RESOURCE_EXHAUSTED,
  InternalError: grpc.status.INTERNAL,
};

export interface GrpcErrorStatus {
  code: grpc.status;
  details: string;
  metadata: grpc.Metadata;
}

function fromApiError(err: ApiError): GrpcErrorStatus {
  const metadata = new grpc.Metadata();
  const body = { code: err.code, message: err.message, kind: err.kind, name: err.objectName, fieldErrors: err.fieldErrors };
  metadata.set(API_ERROR_TRAILER, Buffer.from(JSON.stringify(body), 'utf8'));
  if (err instanceof UnavailableError && err.retrySafe) metadata.set(RETRY_SAFE_TRAILER, 'true');
  return { code: GRPC_CODE[err.code] ?? grpc.status.INTERNAL, details: err.message, metadata };
}

/** Any error of a Resources call as a gRPC status. */
export function toGrpcStatus(err: unknown): GrpcErrorStatus {
  if (err instanceof ApiError) return fromApiError(err);
  if (err instanceof HostError) {
    const code = err.code === 'UNAVAILABLE' ? 'ServiceUnavailable' : err.code === 'DEADLINE_EXCEEDED' ? 'Timeout' : 'InternalError';
    return fromApiError(new ApiError(code, err.message));
  }
  if (err instanceof KvError && err.code === 'invalid') return fromApiError(new ApiError('BadRequest', err.message));
  return fromApiError(new ApiError('InternalError', err instanceof Error ? err.message : String(err)));
}
