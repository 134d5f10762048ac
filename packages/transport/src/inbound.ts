// The receiving side of RaftPeer: checks every request and hands messages to the host.
import { createHash, type Hash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { MessageType, type Message, type NodeId } from '@bramble/raft';
import {
  WireError,
  messageFromWire,
  type WireBatch,
  type WireHeader,
  type WireSnapshotAck,
  type WireSnapshotChunk,
  type WireStreamAck,
} from './codec.js';
import type { TransportHandlers, TransportLogger } from './types.js';

/** What the wrapped deserializer returns for bytes that are not the expected message. */
export class Undecodable {
  constructor(readonly reason: string) {}
}

/**
 * `def` with request deserializers that return Undecodable instead of throwing:
 * grpc-js answers a throwing deserializer with INTERNAL, but garbage from a peer
 * is the peer's error, so we end the call with INVALID_ARGUMENT ourselves.
 */
export function tolerantDefinition(def: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const [name, method] of Object.entries(def)) {
    const deserialize = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return deserialize(bytes);
        } catch (err) {
          return new Undecodable(err instanceof Error ? err.message : String(err));
        }
      },
    };
  }
  return out;
}

export interface InboundSettings {
  self: NodeId;
  clusterId: string;
  handlers: TransportHandlers;
  logger: TransportLogger;
  maxSnapshotBytes: number;
  /** A peer opened a stream to us: it is up again, so our own stream to it need not wait out its back-off. */
  onPeerStreamAccepted?(peer: NodeId): void;
}

interface PeerCounters {
  receivedBatches: number;
  receivedMessages: number;
  errors: number;
  lastError?: string;
}

const MAX_COUNTED_PEERS = 256;

type BatchStream = grpc.ServerDuplexStream<WireBatch | Undecodable, WireStreamAck>;
type ChunkStream = grpc.ServerReadableStream<WireSnapshotChunk | Undecodable, WireSnapshotAck>;

export class Inbound {
  private closed = false;
  /** Open incoming streams and the peer each belongs to (known after its first batch). */
  private readonly streams = new Map<BatchStream, { peer?: NodeId }>();
  private readonly snapshotCalls = new Map<ChunkStream, (err: WireError) => void>();
  private readonly counters = new Map<NodeId, PeerCounters>();

  constructor(private readonly s: InboundSettings) {}

  implementation(): grpc.UntypedServiceImplementation {
    return {
      Stream: (call: BatchStream) => this.handleStream(call),
      SendSnapshot: (call: ChunkStream, callback: grpc.sendUnaryData<WireSnapshotAck>) => this.handleSnapshot(call, callback),
    };
  }

  peerCounters(peer: NodeId): PeerCounters {
    let c = this.counters.get(peer);
    if (!c) {
      c = { receivedBatches: 0, receivedMessages: 0, errors: 0 };
      // Names come from the wire: keep counters for a bounded number of them.
      if (this.counters.size < MAX_COUNTED_PEERS) this.counters.set(peer, c);
    }
    return c;
  }

  incomingStreams(peer: NodeId): number {
    let n = 0;
    for (const s of this.streams.values()) if (s.peer === peer) n++;
    return n;
  }

  // ---------------------------------------------------------------- checks

  private decoded<T extends object>(req: T | Undecodable, what: string): T {
    if (req instanceof Undecodable) throw new WireError(grpc.status.INVALID_ARGUMENT, `undecodable ${what}: ${req.reason}`);
    return req;
  }

  /** Cluster and receiver must be ours; the sender must be named (and, once known, stay the same). */
  private checkHeader(h: WireHeader, what: string, expectedFrom: NodeId | undefined): void {
    if (h.cluster_id !== this.s.clusterId) {
      throw new WireError(
        grpc.status.FAILED_PRECONDITION,
        `${what}.cluster_id: request for cluster ${JSON.stringify(h.cluster_id)} reached member ${JSON.stringify(this.s.self)} of cluster ${JSON.stringify(this.s.clusterId)}`,
      );
    }
    if (h.to !== this.s.self) {
      throw new WireError(
        grpc.status.FAILED_PRECONDITION,
        `${what}.to: request for member ${JSON.stringify(h.to)} reached member ${JSON.stringify(this.s.self)} of cluster ${JSON.stringify(this.s.clusterId)}`,
      );
    }
    if (!h.from) throw new WireError(grpc.status.INVALID_ARGUMENT, `${what}.from: missing sender name`);
    if (h.from === this.s.self) throw new WireError(grpc.status.INVALID_ARGUMENT, `${what}.from: ${JSON.stringify(h.from)} is this member's own name`);
    if (expectedFrom !== undefined && h.from !== expectedFrom) {
      throw new WireError(grpc.status.INVALID_ARGUMENT, `${what}.from: ${JSON.stringify(h.from)} on a stream opened by ${JSON.stringify(expectedFrom)}`);
    }
  }

  private checkEnvelope(m: Message, field: string, from: NodeId): void {
    if (m.to !== this.s.self) {
      throw new WireError(grpc.status.INVALID_ARGUMENT, `${field}.to: ${JSON.stringify(m.to)} in a batch for ${JSON.stringify(this.s.self)}`);
    }
    if (m.from !== from) {
      throw new WireError(grpc.status.INVALID_ARGUMENT, `${field}.from: ${JSON.stringify(m.from)} in a batch from ${JSON.stringify(from)}`);
    }
  }

  private deliver(m: Message): void {
    try {
      this.s.handlers.onMessage(m);
    } catch (err) {
      // The host's bug, not the peer's: keep the stream, say what failed.
      this.s.logger.error(
        { node: this.s.self, peer: m.from, type: m.type, term: m.term, index: m.index, err: err instanceof Error ? err.stack : String(err) },
        'onMessage threw; message dropped',
      );
    }
  }

  private reject(peer: NodeId | undefined, err: WireError): void {
    if (peer !== undefined) {
      const c = this.peerCounters(peer);
      c.errors++;
      c.lastError = err.message;
    }
    this.s.logger.warn({ node: this.s.self, peer, code: grpc.status[err.code], err: err.message }, 'rejected a request from a peer');
  }

  // ---------------------------------------------------------------- Stream

  private handleStream(call: BatchStream): void {
    if (this.closed) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: `member ${this.s.self} is shutting down` });
      return;
    }
    let peer: NodeId | undefined;
    let failed = false;
    let goodbye = false;
    const entry: { peer?: NodeId } = {};
    this.streams.set(call, entry);
    const forget = () => this.streams.delete(call);
    /** The stream is over: tell the host if an accepted stream ended without our doing. */
    const ended = (how: string) => {
      if (!forget() || peer === undefined || this.closed) return;
      const abrupt = !goodbye;
      const reason = abrupt ? `stream ${how} without a goodbye (connection lost or reset)` : 'peer closed the stream';
      if (abrupt) this.s.logger.warn({ node: this.s.self, peer, reason }, 'peer stream broke');
      else this.s.logger.info({ node: this.s.self, peer }, 'peer stream closed');
      this.s.handlers.onPeerDisconnected?.(peer, { direction: 'incoming', abrupt, reason });
    };

    call.on('data', (req: WireBatch | Undecodable) => {
      if (failed || this.closed) return;
      let claimed: NodeId | undefined;
      try {
        const batch = this.decoded(req, 'MessageBatch');
        claimed = batch.from || undefined;
        this.checkHeader(batch, 'MessageBatch', peer);
        const from = batch.from;
        const wires = batch.messages;
        const messages = new Array<Message>(wires.length);
        for (let i = 0; i < wires.length; i++) {
          const m = messageFromWire(wires[i], `MessageBatch.messages[${i}]`);
          this.checkEnvelope(m, `MessageBatch.messages[${i}]`, from);
          messages[i] = m;
        }
        if (peer === undefined) {
          peer = entry.peer = from;
          call.write({ cluster_id: this.s.clusterId, member: this.s.self });
          this.s.logger.info({ node: this.s.self, peer, remote: call.getPeer() }, 'peer stream accepted');
          this.s.onPeerStreamAccepted?.(from);
        }
        if (batch.closing) goodbye = true;
        const c = this.peerCounters(from);
        c.receivedBatches++;
        c.receivedMessages += messages.length;
        for (let i = 0; i < messages.length; i++) this.deliver(messages[i]);
      } catch (err) {
        if (!(err instanceof WireError)) throw err;
        failed = true;
        this.reject(peer ?? claimed, err);
        forget();
        call.emit('error', err.toStatus());
      }
    });
    // grpc-js signals a half-close and a reset (or lost connection) alike with 'end'
    // (and emits 'cancelled' after every stream, however it ended): the goodbye
    // batch is what tells them apart.
    call.on('end', () => {
      ended('ended');
      if (!failed) call.end();
    });
    call.on('cancelled', () => ended('cancelled'));
    call.on('error', (err: unknown) => {
      // Our own rejection passes through here too (grpc-js ends the call on 'error').
      if (!failed) this.s.logger.debug({ node: this.s.self, peer, err: String((err as { details?: string }).details ?? err) }, 'peer stream error');
    });
  }

  // ---------------------------------------------------------------- SendSnapshot

  private handleSnapshot(call: ChunkStream, callback: grpc.sendUnaryData<WireSnapshotAck>): void {
    if (this.closed) {
      callback({ code: grpc.status.UNAVAILABLE, details: `member ${this.s.self} is shutting down` });
      return;
    }
    let responded = false;
    let peer: NodeId | undefined;
    let header: Message | undefined;
    let buf: Buffer | undefined;
    let total = 0;
    let received = 0;
    let sawLast = false;
    let hash: Hash | undefined;
    let claimed: NodeId | undefined;
    const fail = (err: WireError) => {
      if (responded) return;
      responded = true;
      this.snapshotCalls.delete(call);
      buf = undefined;
      this.reject(peer ?? claimed, err);
      callback(err.toStatus());
    };
    this.snapshotCalls.set(call, fail);

    call.on('data', (req: WireSnapshotChunk | Undecodable) => {
      if (responded) return;
      try {
        const chunk = this.decoded(req, 'SnapshotChunk');
        claimed = chunk.from || undefined;
        this.checkHeader(chunk, 'SnapshotChunk', peer);
        if (!header) {
          peer = chunk.from;
          if (!chunk.message || chunk.offset !== 0) {
            throw new WireError(grpc.status.INVALID_ARGUMENT, 'SnapshotChunk.message: the first chunk must carry the MsgSnap at offset 0');
          }
          const m = messageFromWire(chunk.message, 'SnapshotChunk.message');
          this.checkEnvelope(m, 'SnapshotChunk.message', peer);
          if (m.type !== MessageType.Snap || !m.snapshot) {
            throw new WireError(grpc.status.INVALID_ARGUMENT, `SnapshotChunk.message.type: must be MsgSnap with a snapshot (got ${m.type})`);
          }
          total = chunk.total_bytes;
          if (!Number.isSafeInteger(total) || total < 0) {
            throw new WireError(grpc.status.INVALID_ARGUMENT, `SnapshotChunk.total_bytes: must be an integer >= 0 (got ${total})`);
          }
          if (total > this.s.maxSnapshotBytes) {
            throw new WireError(
              grpc.status.RESOURCE_EXHAUSTED,
              `SnapshotChunk.total_bytes: snapshot of ${total} bytes exceeds maxSnapshotBytes ${this.s.maxSnapshotBytes}`,
            );
          }
          header = m;
          buf = Buffer.allocUnsafe(total);
          hash = createHash('sha256');
          this.s.logger.info({ node: this.s.self, peer, index: m.snapshot.meta.index, term: m.snapshot.meta.term, sizeBytes: total }, 'receiving snapshot');
        } else if (chunk.message) {
          throw new WireError(grpc.status.INVALID_ARGUMENT, `SnapshotChunk.message: only the first chunk carries it (chunk at offset ${chunk.offset})`);
        }
        if (sawLast) throw new WireError(grpc.status.INVALID_ARGUMENT, `SnapshotChunk: chunk at offset ${chunk.offset} after the last one`);
        if (chunk.offset !== received) {
          throw new WireError(grpc.status.INVALID_ARGUMENT, `SnapshotChunk.offset: expected ${received} (got ${chunk.offset})`);
        }
        const data = chunk.data;
        if (received + data.length > total) {
          throw new WireError(grpc.status.INVALID_ARGUMENT, `SnapshotChunk.data: ${received + data.length} bytes exceed total_bytes ${total}`);
        }
        buf!.set(data, received);
        hash!.update(data);
        received += data.length;
        if (chunk.last) {
          sawLast = true;
          if (received !== total) {
            throw new WireError(grpc.status.INVALID_ARGUMENT, `SnapshotChunk.last: after ${received} of ${total} bytes`);
          }
          if (chunk.sha256.length > 0 && !hash!.digest().equals(chunk.sha256)) {
            throw new WireError(grpc.status.DATA_LOSS, `SnapshotChunk.sha256: the ${total} bytes received do not match the sender's checksum`);
          }
        }
      } catch (err) {
        if (!(err instanceof WireError)) throw err;
        fail(err);
      }
    });
    call.on('end', () => {
      if (responded) return;
      if (!header || !header.snapshot) return fail(new WireError(grpc.status.INVALID_ARGUMENT, 'SendSnapshot: no chunks'));
      if (!sawLast) {
        return fail(new WireError(grpc.status.INVALID_ARGUMENT, `SendSnapshot: stream ended after ${received} of ${total} bytes without the last chunk`));
      }
      responded = true;
      this.snapshotCalls.delete(call);
      header.snapshot.data = buf!;
      this.s.logger.info(
        { node: this.s.self, peer, index: header.snapshot.meta.index, term: header.snapshot.meta.term, sizeBytes: total },
        'snapshot received',
      );
      this.deliver(header);
      callback(null, { received_bytes: received });
    });
    call.on('cancelled', () => {
      if (responded) return;
      responded = true;
      this.snapshotCalls.delete(call);
      buf = undefined;
      this.s.logger.warn({ node: this.s.self, peer, received, total }, 'snapshot transfer cancelled by the sender or the connection');
    });
    call.on('error', (err: unknown) => {
      this.s.logger.debug({ node: this.s.self, peer, err: String(err) }, 'snapshot stream error');
    });
  }

  /** End every incoming stream cleanly and fail transfers in progress; later calls get UNAVAILABLE. */
  close(): void {
    this.closed = true;
    for (const call of [...this.streams.keys()]) {
      this.streams.delete(call);
      call.end();
    }
    for (const fail of [...this.snapshotCalls.values()]) {
      fail(new WireError(grpc.status.UNAVAILABLE, `member ${this.s.self} is shutting down`));
    }
  }
}
