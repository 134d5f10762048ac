// The transport's contract with its host (the master).
import type { Message, NodeId } from '@bramble/raft';

/** How an established stream to or from a peer ended without us closing it. */
export interface PeerDisconnect {
  /** `outgoing`: our stream to the peer; `incoming`: the peer's stream to us. */
  direction: 'incoming' | 'outgoing';
  /** True when the stream broke (reset, keepalive timeout, error status); false when the peer ended it cleanly (shutting down). */
  abrupt: boolean;
  reason: string;
}

/** Called on the event loop, never re-entrantly from `send`. */
export interface TransportHandlers {
  /** A message from a peer, already checked; the host calls `node.step(m)`. Messages of one stream arrive in order. */
  onMessage(m: Message): void;
  /** A stream to `peer` failed or could not be opened; the host calls `node.reportUnreachable(peer)`. */
  onUnreachable?(peer: NodeId): void;
  /** A MsgSnap to `peer` was delivered (`ok`) or failed; the host calls `node.reportSnapshot(peer, ok)`. */
  onSnapshotStatus?(peer: NodeId, ok: boolean): void;
  /**
   * An established stream from or to `peer` ended without this transport closing it.
   * A hint for fast failover (if `peer` is the leader it may be gone), not a verdict.
   */
  onPeerDisconnected?(peer: NodeId, info: PeerDisconnect): void;
}

/** The subset of pino the transport uses: structured object first, message second. */
export interface TransportLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: TransportLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface PeerStats {
  address: string;
  /** Our stream to the peer is open and the peer accepted it. */
  connected: boolean;
  /** Streams the peer currently has open to us. */
  incomingStreams: number;
  queuedMessages: number;
  queuedBytes: number;
  sentBatches: number;
  sentMessages: number;
  /** Messages dropped because the queue was full (or a message exceeded maxMessageBytes). */
  droppedMessages: number;
  receivedBatches: number;
  receivedMessages: number;
  snapshotsSent: number;
  snapshotsFailed: number;
  /** Failed streams, failed snapshots and rejected messages, since start. */
  errors: number;
  lastError?: string;
}
