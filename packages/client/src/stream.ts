// Shared pieces of the long-lived streams (watch, lease keep-alive): which failures are
// worth reconnecting after, and a promise pair that never raises unhandled rejections.
import * as grpc from '@grpc/grpc-js';

/** Codes after which a stream is re-opened on another master: the connection or that master failed, not the request. */
const RECONNECT_CODES = new Set<number>([
  grpc.status.OK, // the master ended the stream without cancelling the watch (shutdown)
  grpc.status.CANCELLED, // not by us: the master or a proxy went away
  grpc.status.UNKNOWN,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
  grpc.status.INTERNAL,
  grpc.status.UNAVAILABLE,
]);

export function worthReconnecting(code: number): boolean {
  return RECONNECT_CODES.has(code);
}

/** A promise with its settle functions, pre-handled so that nobody awaiting it is not an error. */
export class Settle<T> {
  readonly promise: Promise<T>;
  private resolveFn!: (v: T) => void;
  private rejectFn!: (e: Error) => void;
  private settledFlag = false;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    this.promise.catch(() => {});
  }

  get settled(): boolean {
    return this.settledFlag;
  }

  resolve(v: T): void {
    if (this.settledFlag) return;
    this.settledFlag = true;
    this.resolveFn(v);
  }

  reject(e: Error): void {
    if (this.settledFlag) return;
    this.settledFlag = true;
    this.rejectFn(e);
  }
}
