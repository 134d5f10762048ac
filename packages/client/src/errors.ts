// Errors the client surfaces: what failed (the operation) and why (a gRPC status or a client verdict).
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';

/** gRPC status code names, as a Kubernetes/etcd user reads them in messages. */
export type GrpcCodeName =
  | 'OK'
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED';

/**
 * Codes the client itself produces:
 * - UNKNOWN_OUTCOME: a write (put, delete, txn, compact, lease grant/revoke, membership
 *   change) reached a master but no answer came back (connection lost, deadline, master
 *   shutting down). It may or may not have been applied; it was deliberately not repeated.
 * - COMPACTED: a watch's start revision is older than the compacted history
 *   (`compactRevision` says where history starts now).
 * - WATCH_CANCELED: the server cancelled a watch for another reason (`details` says why).
 * - LEASE_EXPIRED: a kept-alive lease no longer exists on the server.
 * - CLOSED: the client was closed.
 */
export type ClientCodeName = 'UNKNOWN_OUTCOME' | 'COMPACTED' | 'WATCH_CANCELED' | 'LEASE_EXPIRED' | 'CLOSED';

export type BrambleErrorCode = GrpcCodeName | ClientCodeName;

/** One failed attempt of a call, kept so the final error can say where it was tried. */
export interface AttemptFailure {
  endpoint: string;
  code: GrpcCodeName;
  details: string;
}

export interface BrambleErrorInit {
  /** What failed, e.g. `put "foo"`. */
  operation: string;
  code: BrambleErrorCode;
  /** Why, without the code: the server's message or the client's explanation. */
  details: string;
  /** The master that produced the error, when one did. */
  endpoint?: string;
  /** The gRPC status code behind the error, when there was one. */
  grpcCode?: number;
  attempts?: AttemptFailure[];
  compactRevision?: number;
}

/** Every error a BrambleClient method rejects with. `message` reads `<operation>: <CODE>: <details>`. */
export class BrambleError extends Error {
  readonly code: BrambleErrorCode;
  readonly operation: string;
  readonly details: string;
  readonly endpoint: string | undefined;
  readonly grpcCode: number | undefined;
  readonly attempts: AttemptFailure[];
  /** COMPACTED only: the oldest revision still available. */
  readonly compactRevision: number | undefined;

  constructor(init: BrambleErrorInit) {
    super(`${init.operation}: ${init.code}: ${init.details}`);
    this.name = 'BrambleError';
    this.code = init.code;
    this.operation = init.operation;
    this.details = init.details;
    this.endpoint = init.endpoint;
    this.grpcCode = init.grpcCode;
    this.attempts = init.attempts ?? [];
    this.compactRevision = init.compactRevision;
  }
}

export function isBrambleError(err: unknown): err is BrambleError {
  return err instanceof BrambleError;
}

/** Name of a numeric gRPC status code ('UNKNOWN' for codes grpc-js does not know). */
export function grpcCodeName(code: number): GrpcCodeName {
  const name = (GrpcStatus as unknown as Record<number, string>)[code];
  return (typeof name === 'string' ? name : 'UNKNOWN') as GrpcCodeName;
}

export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number' && 'details' in err;
}

/**
 * grpc-js wraps connection failures in long texts ("No connection established. Last
 * error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: "); keep the cause.
 */
export function cleanDetails(details: string): string {
  const m = /^No connection established\. Last error: (?:Error: )?(.*?)(?:\. Resolution note: ?.*)?$/s.exec(details);
  if (m && m[1]) return `no connection: ${m[1]}`;
  return details.trim() || '(no details)';
}

/** The BrambleError for a gRPC status returned by `endpoint`. */
export function fromServiceError(operation: string, endpoint: string, err: ServiceError): BrambleError {
  return new BrambleError({
    operation,
    code: grpcCodeName(err.code),
    details: cleanDetails(err.details ?? err.message),
    endpoint,
    grpcCode: err.code,
  });
}
