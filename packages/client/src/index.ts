export { BrambleClient, SERVER_MAX_REQUEST_BYTES, CLIENT_MAX_SEND_BYTES, DEFAULT_MAX_RECEIVE_BYTES, type ClientOptions } from './client.js';
export {
  BrambleError,
  isBrambleError,
  grpcCodeName,
  type BrambleErrorCode,
  type GrpcCodeName,
  type ClientCodeName,
  type AttemptFailure,
} from './errors.js';
export { RETRY_SAFE_METADATA, DEFAULT_RETRY_POLICY, classify, neverSent, type RetryPolicy, type ClientLogger } from './call.js';
export { checkEndpoint } from './endpoints.js';
export { prefixRangeEnd, toBuffer } from './wire.js';
export { DEFAULT_WATCH_RECONNECT_TIMEOUT_MS, type WatchListener } from './watch.js';
export * from './types.js';
export * from './resources-types.js';
export * from './resources.js';
export * from './kubelet.js';
export * from './nodes.js';
