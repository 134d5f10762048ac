export { PeerTransport, RAFT_PROTO, RAFT_PEER_SERVICE, type PeerTransportOptions } from './peer-transport.js';
export type { TransportHandlers, TransportLogger, PeerStats, PeerDisconnect } from './types.js';
export {
  PROTO_LOADER_OPTIONS,
  PROTO_DIR_ENV,
  findProtoDir,
  loadProtoDefinition,
  loadProto,
  serviceDefinition,
  serviceClient,
  messageCodec,
} from './proto.js';
export {
  peerServerOptions,
  peerChannelOptions,
  enlargeServerReceiveWindows,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_KEEPALIVE_TIME_MS,
  DEFAULT_KEEPALIVE_TIMEOUT_MS,
  type PeerGrpcSettings,
} from './grpc-options.js';
export {
  messageToWire,
  messageFromWire,
  messageSizeBytes,
  WireError,
  type WireMessage,
  type WireBatch,
  type WireSnapshotChunk,
} from './codec.js';
export { BoundedMessageQueue, isDroppable } from './queue.js';
export { Backoff } from './backoff.js';
export { MEMBER_HEADER, LEADER_HEADER } from './headers.js';
