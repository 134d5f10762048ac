// Raft messages between masters over gRPC: the host's side of the wire.
import * as grpc from '@grpc/grpc-js';
import { MessageType, type Message, type NodeId } from '@bramble/raft';
import { DEFAULT_KEEPALIVE_TIME_MS, DEFAULT_KEEPALIVE_TIMEOUT_MS, DEFAULT_MAX_MESSAGE_BYTES, peerChannelOptions } from './grpc-options.js';
import { Inbound, tolerantDefinition } from './inbound.js';
import { OutboundPeer, type OutboundSettings, type RaftPeerClient } from './outbound-peer.js';
import { serviceDefinition } from './proto.js';
import { silentLogger, type PeerStats, type TransportHandlers, type TransportLogger } from './types.js';

export const RAFT_PROTO = 'raft.proto';
export const RAFT_PEER_SERVICE = 'bramble.raft.RaftPeer';

export interface PeerTransportOptions {
  /** This member's name. */
  self: NodeId;
  /** Requests for another cluster are refused (and ours refused by its members). */
  clusterId: string;
  /** The other members: name -> "host:port". */
  peers: Record<NodeId, string>;
  handlers: TransportHandlers;
  /** Largest gRPC message sent or accepted by the channels to peers. Default 16 MiB (the server's limit is set by peerServerOptions). */
  maxMessageBytes?: number;
  /** Bound of each peer's outgoing queue, in estimated bytes. Default 32 MiB. */
  maxQueuedBytesPerPeer?: number;
  /** Bound of each peer's outgoing queue, in messages. Default 10,000. */
  maxQueuedMessagesPerPeer?: number;
  /** Target size of one stream write. Default 1 MiB (at most maxMessageBytes / 2). */
  maxBatchBytes?: number;
  /** Bytes handed to gRPC and not yet written out, per peer, before the queue waits. Default 4 MiB. */
  maxInflightBytesPerPeer?: number;
  /** Size of SendSnapshot chunks. Default 512 KiB. */
  snapshotChunkBytes?: number;
  /** Largest snapshot accepted from a peer. Default 1 GiB. */
  maxSnapshotBytes?: number;
  /** Deadline of one snapshot transfer. Default 5 minutes. */
  snapshotTimeoutMs?: number;
  /** Stream reconnect back-off: from initialMs doubling to maxMs, with jitter. Default 50 ms -> 2 s. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Jitter source, a float in [0, 1). Default Math.random. */
  random?: () => number;
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  /** Default: insecure (plaintext) channels. */
  credentials?: grpc.ChannelCredentials;
  /** How long close() lets each outgoing stream end cleanly before cancelling it. Default 1 s. */
  closeGraceMs?: number;
  logger?: TransportLogger;
}

/**
 * Sends the Raft core's messages to peers and delivers theirs to the host.
 *
 * Outgoing: per peer, a bounded queue and one long-lived RaftPeer.Stream, opened on
 * first use and reopened with back-off when it fails. Everything queued in one turn
 * of the event loop is written as one batch (several if over maxBatchBytes). MsgSnap
 * goes through RaftPeer.SendSnapshot in chunks.
 *
 * Incoming: `addToServer` registers RaftPeer on the master's grpc.Server; every
 * request is checked (cluster, receiver, sender, well-formed messages) before any of
 * its messages reach `handlers.onMessage`.
 */
export class PeerTransport {
  private readonly opts: PeerTransportOptions;
  private readonly logger: TransportLogger;
  private readonly outSettings: OutboundSettings;
  private readonly inbound: Inbound;
  private readonly definition: grpc.ServiceDefinition;
  private readonly peers = new Map<NodeId, OutboundPeer>();
  private readonly dirty = new Set<OutboundPeer>();
  private flushImmediate: NodeJS.Immediate | undefined;
  private readonly closing = new Set<Promise<void>>();
  private readonly servers: grpc.Server[] = [];
  private readonly unknownDestinations = new Set<NodeId>();
  private closed = false;

  constructor(opts: PeerTransportOptions) {
    if (!opts.self) throw new Error('PeerTransport: self must be a non-empty member name');
    if (!opts.clusterId) throw new Error('PeerTransport: clusterId must be non-empty');
    this.opts = opts;
    this.logger = opts.logger ?? silentLogger;
    const maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const backoffInitialMs = opts.backoff?.initialMs ?? 50;
    const backoffMaxMs = opts.backoff?.maxMs ?? 2_000;
    const channelOptions = peerChannelOptions({
      maxMessageBytes,
      keepaliveTimeMs: opts.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_TIME_MS,
      keepaliveTimeoutMs: opts.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
      reconnectInitialMs: backoffInitialMs,
      reconnectMaxMs: backoffMaxMs,
    });
    this.definition = serviceDefinition(RAFT_PROTO, RAFT_PEER_SERVICE);
    const Client = grpc.makeGenericClientConstructor(this.definition, 'RaftPeer');
    const credentials = opts.credentials ?? grpc.credentials.createInsecure();
    // Room for the batch envelope and varint slack on top of the estimated message sizes.
    const envelopeBytes = 64 * 1024;
    this.outSettings = {
      self: opts.self,
      clusterId: opts.clusterId,
      handlers: opts.handlers,
      logger: this.logger,
      newClient: (address) => new Client(address, credentials, channelOptions) as unknown as RaftPeerClient,
      maxQueuedBytes: opts.maxQueuedBytesPerPeer ?? 32 * 1024 * 1024,
      maxQueuedMessages: opts.maxQueuedMessagesPerPeer ?? 10_000,
      maxBatchBytes: Math.min(opts.maxBatchBytes ?? 1024 * 1024, Math.floor(maxMessageBytes / 2)),
      maxMessageBytes: maxMessageBytes - envelopeBytes,
      maxInflightBytes: opts.maxInflightBytesPerPeer ?? 4 * 1024 * 1024,
      snapshotChunkBytes: Math.min(opts.snapshotChunkBytes ?? 512 * 1024, maxMessageBytes - envelopeBytes),
      snapshotTimeoutMs: opts.snapshotTimeoutMs ?? 5 * 60_000,
      backoffInitialMs,
      backoffMaxMs,
      random: opts.random ?? Math.random,
      closeGraceMs: opts.closeGraceMs ?? 1_000,
    };
    this.inbound = new Inbound({
      self: opts.self,
      clusterId: opts.clusterId,
      handlers: opts.handlers,
      logger: this.logger,
      maxSnapshotBytes: opts.maxSnapshotBytes ?? 1024 * 1024 * 1024,
      onPeerStreamAccepted: (peer) => this.peers.get(peer)?.reconnectNow(),
    });
    for (const [id, address] of Object.entries(opts.peers)) {
      if (id !== opts.self) this.addPeer(id, address);
    }
  }

  /** Register RaftPeer on a server the master owns (create it with peerServerOptions()). */
  addToServer(server: grpc.Server): void {
    server.addService(tolerantDefinition(this.definition), this.inbound.implementation());
    this.servers.push(server);
  }

  /**
   * Queue messages for their destinations; they are written after the current turn
   * of the event loop. Never throws for a peer's sake: an unknown destination is
   * logged and reported unreachable, a full queue drops its oldest messages.
   */
  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const m of messages) {
      const peer = this.peers.get(m.to);
      if (!peer) {
        this.unknownDestination(m);
        continue;
      }
      if (m.type === MessageType.Snap && m.snapshot) {
        peer.sendSnapshot(m);
        continue;
      }
      peer.enqueue(m);
      this.dirty.add(peer);
    }
    if (this.dirty.size > 0 && !this.flushImmediate) {
      this.flushImmediate = setImmediate(() => this.flushDirty());
    }
  }

  private flushDirty(): void {
    this.flushImmediate = undefined;
    const peers = [...this.dirty];
    this.dirty.clear();
    for (const peer of peers) peer.flush();
  }

  private unknownDestination(m: Message): void {
    if (!this.unknownDestinations.has(m.to)) {
      this.unknownDestinations.add(m.to);
      this.logger.warn({ node: this.opts.self, peer: m.to, type: m.type }, 'message for a member with no known address; dropped');
    }
    const to = m.to;
    if (to !== this.opts.self) setImmediate(() => !this.closed && this.opts.handlers.onUnreachable?.(to));
  }

  /** Start sending to `id` at `address` (a member added by a conf change); an existing peer is re-pointed. */
  addPeer(id: NodeId, address: string): void {
    if (this.closed) return;
    if (id === this.opts.self) throw new Error(`addPeer: ${id} is this member`);
    const existing = this.peers.get(id);
    if (existing) {
      existing.setAddress(address);
      return;
    }
    this.unknownDestinations.delete(id);
    this.peers.set(id, new OutboundPeer(id, address, this.outSettings));
  }

  /** Re-point `id` to a new address: its stream and connection are replaced, its queue kept. */
  updatePeer(id: NodeId, address: string): void {
    const peer = this.peers.get(id);
    if (!peer) throw new Error(`updatePeer: unknown peer ${id}`);
    peer.setAddress(address);
    this.dirty.add(peer);
    if (!this.flushImmediate) this.flushImmediate = setImmediate(() => this.flushDirty());
  }

  /** Stop sending to `id` (removed from the cluster); its queue is discarded. */
  removePeer(id: NodeId): void {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    this.dirty.delete(peer);
    const p = peer.close();
    this.closing.add(p);
    void p.finally(() => this.closing.delete(p));
  }

  peerStats(): Record<NodeId, PeerStats> {
    const out: Record<NodeId, PeerStats> = {};
    for (const [id, p] of this.peers) {
      const c = this.inbound.peerCounters(id);
      out[id] = {
        address: p.address,
        connected: p.isConnected,
        incomingStreams: this.inbound.incomingStreams(id),
        queuedMessages: p.queuedMessages,
        queuedBytes: p.queuedBytes,
        sentBatches: p.sentBatches,
        sentMessages: p.sentMessages,
        droppedMessages: p.droppedMessages,
        receivedBatches: c.receivedBatches,
        receivedMessages: c.receivedMessages,
        snapshotsSent: p.snapshotsSent,
        snapshotsFailed: p.snapshotsFailed,
        errors: p.errors + c.errors,
        lastError: p.lastError ?? c.lastError,
      };
    }
    return out;
  }

  /**
   * Stop: end outgoing streams cleanly, close channels, end incoming streams and
   * unregister RaftPeer from the server. The server itself is the master's to shut down.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.flushImmediate) clearImmediate(this.flushImmediate);
    this.flushImmediate = undefined;
    this.dirty.clear();
    this.inbound.close();
    for (const server of this.servers) server.removeService(this.definition);
    const peers = [...this.peers.values()];
    this.peers.clear();
    await Promise.all([...peers.map((p) => p.close()), ...this.closing]);
  }
}
