/** Errors of the Nodes and Tokens services, and how they travel over gRPC. */
import * as grpc from '@grpc/grpc-js';
import { toGrpcStatus } from '../resources/errors.js';

/** A join or heartbeat that is refused: bad token, wrong credential (gRPC UNAUTHENTICATED). */
export class NodeAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeAuthError';
  }
}

/**
 * The gRPC status for any error a Nodes/Tokens handler throws: UNAUTHENTICATED for a
 * refused join or heartbeat, otherwise as the Resources service maps it (ApiError
 * with its `bramble-api-error-bin` trailer).
 */
export function nodeServiceStatus(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof NodeAuthError) return { code: grpc.status.UNAUTHENTICATED, details: err.message };
  return toGrpcStatus(err);
}
