/** Errors of the Nodes and Tokens services, and how they travel over gRPC. */
import * as grpc from '@grpc/grpc-js';
import { ApiError } from '@bramble/api';
import { HostError } from '../raft-host.js';

/** A join or heartbeat that is refused: bad token, wrong credential (gRPC UNAUTHENTICATED). */
export class NodeAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeAuthError';
  }
}

/** Trailer carrying an ApiError as JSON, so clients rebuild the exact error (proto/api.proto). */
export const API_ERROR_TRAILER = 'bramble-api-error-bin';
/** Set on errors that provably changed nothing, so a client may retry even a write elsewhere. */
const RETRY_SAFE_METADATA = 'bramble-retry-safe';

const GRPC_CODE: Record<ApiError['code'], grpc.status> = {
  BadRequest: grpc.status.INVALID_ARGUMENT,
  Invalid: grpc.status.INVALID_ARGUMENT,
  NotFound: grpc.status.NOT_FOUND,
  AlreadyExists: grpc.status.ALREADY_EXISTS,
  Conflict: grpc.status.ABORTED,
  Forbidden: grpc.status.PERMISSION_DENIED,
  Gone: grpc.status.OUT_OF_RANGE,
  Expired: grpc.status.OUT_OF_RANGE,
  Timeout: grpc.status.DEADLINE_EXCEEDED,
  TooManyRequests: grpc.status.RESOURCE_EXHAUSTED,
  InternalError: grpc.status.INTERNAL,
  ServiceUnavailable: grpc.status.UNAVAILABLE,
};

/** The gRPC status for any error a Nodes/Tokens handler throws. */
export function toGrpcStatus(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof NodeAuthError) return { code: grpc.status.UNAUTHENTICATED, details: err.message };
  if (err instanceof ApiError) {
    const metadata = new grpc.Metadata();
    metadata.set(
      API_ERROR_TRAILER,
      Buffer.from(JSON.stringify({ code: err.code, message: err.message, kind: err.kind, name: err.objectName, fieldErrors: err.fieldErrors })),
    );
    if ((err as { retrySafe?: boolean }).retrySafe === true) metadata.set(RETRY_SAFE_METADATA, 'true');
    return { code: GRPC_CODE[err.code], details: err.message, metadata };
  }
  if (err instanceof HostError) return { code: grpc.status[err.code], details: err.message };
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}
