// Everything this member sends to one peer: a bounded queue, one long-lived
// RaftPeer.Stream (opened lazily, reopened with back-off), and snapshot transfers.
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Message, NodeId } from '@bramble/raft';
import { Backoff } from './backoff.js';
import {
  messageSizeBytes,
  messageToWire,
  type WireBatch,
  type WireMessage,
  type WireSnapshotAck,
  type WireSnapshotChunk,
  type WireStreamAck,
} from './codec.js';
import { BoundedMessageQueue } from './queue.js';
import type { TransportHandlers, TransportLogger } from './types.js';

export interface RaftPeerClient extends grpc.Client {
  Stream(metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<WireBatch, WireStreamAck>;
  SendSnapshot(
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, ack?: WireSnapshotAck) => void,
  ): grpc.ClientWritableStream<WireSnapshotChunk>;
}

/** Settings shared by every OutboundPeer of one transport. */
export interface OutboundSettings {
  self: NodeId;
  clusterId: string;
  handlers: TransportHandlers;
  logger: TransportLogger;
  newClient(address: string): RaftPeerClient;
  maxQueuedBytes: number;
  maxQueuedMessages: number;
  /** Target size of one stream write (a batch); a single larger message goes alone. */
  maxBatchBytes: number;
  /** A message estimated larger than this cannot be sent and is dropped. */
  maxMessageBytes: number;
  /** Bytes written to the stream whose write has not completed yet, beyond which we wait. */
  maxInflightBytes: number;
  snapshotChunkBytes: number;
  snapshotTimeoutMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  random: () => number;
  /** How long close() waits for a stream to end cleanly before cancelling it. */
  closeGraceMs: number;
}

const EMPTY = Buffer.alloc(0);

export class OutboundPeer {
  private client: RaftPeerClient;
  private readonly queue: BoundedMessageQueue;
  private readonly backoff: Backoff;

  private stream: grpc.ClientDuplexStream<WireBatch, WireStreamAck> | undefined;
  /** Incremented per stream, so that events of a dead stream are ignored. */
  private generation = 0;
  private connected = false;
  private waitingDrain = false;
  private inflightBytes = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The first drop of an overflow episode is logged; the episode ends when the queue empties. */
  private overflowing = false;
  private lastLoggedError = '';

  private snapshotCall: grpc.ClientWritableStream<WireSnapshotChunk> | undefined;
  private snapshotPending: Message | undefined;

  sentBatches = 0;
  sentMessages = 0;
  oversizedDrops = 0;
  snapshotsSent = 0;
  snapshotsFailed = 0;
  errors = 0;
  lastError: string | undefined;

  constructor(
    readonly id: NodeId,
    private addressNow: string,
    private readonly s: OutboundSettings,
  ) {
    this.client = s.newClient(addressNow);
    this.queue = new BoundedMessageQueue({ maxBytes: s.maxQueuedBytes, maxMessages: s.maxQueuedMessages });
    this.backoff = new Backoff({ initialMs: s.backoffInitialMs, maxMs: s.backoffMaxMs, random: s.random });
  }

  get address(): string {
    return this.addressNow;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  get queuedMessages(): number {
    return this.queue.length;
  }

  get queuedBytes(): number {
    return this.queue.sizeBytes;
  }

  get droppedMessages(): number {
    return this.queue.dropped + this.oversizedDrops;
  }

  /** Queue `m` for the stream; the transport calls flush() later in the same turn of the event loop. */
  enqueue(m: Message): void {
    if (this.closed) return;
    const sizeBytes = messageSizeBytes(m);
    if (sizeBytes > this.s.maxMessageBytes) {
      this.oversizedDrops++;
      this.recordError(`${m.type} to ${this.id} of about ${sizeBytes} bytes exceeds maxMessageBytes ${this.s.maxMessageBytes}; dropped`);
      return;
    }
    const dropped = this.queue.push(m, sizeBytes);
    if (dropped > 0 && !this.overflowing) {
      this.overflowing = true;
      this.s.logger.warn(
        {
          node: this.s.self,
          peer: this.id,
          queuedMessages: this.queue.length,
          queuedBytes: this.queue.sizeBytes,
          droppedMessages: this.queue.dropped,
          connected: this.connected,
        },
        'peer queue full; dropping the oldest messages',
      );
    }
  }

  /** Write what the queue holds, as far as the stream accepts it. */
  flush(): void {
    if (this.closed) return;
    if (this.queue.length === 0) {
      this.overflowing = false;
      return;
    }
    if (!this.stream) {
      if (this.reconnectTimer) return; // backing off: the timer reopens
      this.open();
    }
    // Until the peer accepts the stream, messages wait in the (bounded) queue rather
    // than vanish into a connection attempt that may fail; the ack flushes them.
    const stream = this.stream;
    if (!stream || !this.connected) return;
    const gen = this.generation;
    while (this.queue.length > 0 && !this.waitingDrain && this.inflightBytes < this.s.maxInflightBytes) {
      const messages: WireMessage[] = [];
      let batchBytes = 0;
      for (;;) {
        const next = this.queue.peekSizeBytes();
        if (next === undefined || (messages.length > 0 && batchBytes + next > this.s.maxBatchBytes)) break;
        const item = this.queue.shift()!;
        messages.push(messageToWire(item.m));
        batchBytes += item.sizeBytes;
      }
      const batch: WireBatch = { cluster_id: this.s.clusterId, from: this.s.self, to: this.id, messages };
      this.inflightBytes += batchBytes;
      this.sentBatches++;
      this.sentMessages += messages.length;
      const accepted = stream.write(batch, () => {
        if (gen !== this.generation) return;
        this.inflightBytes -= batchBytes;
        if (!this.waitingDrain && this.queue.length > 0) this.flush();
      });
      if (!accepted) {
        this.waitingDrain = true;
        stream.once('drain', () => {
          if (gen !== this.generation) return;
          this.waitingDrain = false;
          this.flush();
        });
      }
    }
    if (this.queue.length === 0) this.overflowing = false;
  }

  private open(): void {
    const gen = ++this.generation;
    const stream = this.client.Stream();
    this.stream = stream;
    this.connected = false;
    this.inflightBytes = 0;
    this.waitingDrain = false;
    stream.on('data', (ack: WireStreamAck) => {
      if (gen !== this.generation || this.connected) return;
      if (ack.member !== this.id || ack.cluster_id !== this.s.clusterId) {
        this.recordError(
          `peer ${this.id} at ${this.addressNow} answered as member ${JSON.stringify(ack.member)} of cluster ${JSON.stringify(ack.cluster_id)}`,
        );
        stream.cancel();
        return;
      }
      this.connected = true;
      this.backoff.reset();
      this.lastLoggedError = '';
      this.s.logger.info({ node: this.s.self, peer: this.id, address: this.addressNow }, 'peer stream connected');
      this.flush();
    });
    // 'status' always follows an 'error'; the listener only keeps the error from being unhandled.
    stream.on('error', () => {});
    stream.on('status', (st: grpc.StatusObject) => this.onStreamClosed(gen, st));
    // The opening handshake: an empty batch the receiver checks and acknowledges.
    stream.write({ cluster_id: this.s.clusterId, from: this.s.self, to: this.id, messages: [] });
  }

  private onStreamClosed(gen: number, st: grpc.StatusObject): void {
    if (gen !== this.generation) return;
    const wasConnected = this.connected;
    this.generation++; // late write callbacks of this stream must not touch the next one
    this.stream = undefined;
    this.connected = false;
    this.inflightBytes = 0;
    this.waitingDrain = false;
    if (this.closed) return;
    const abrupt = st.code !== grpc.status.OK;
    const reason = abrupt ? `${grpc.status[st.code]}: ${st.details}` : 'peer ended the stream';
    this.errors++;
    this.lastError = `stream to ${this.id} at ${this.addressNow}: ${reason}`;
    const fields = { node: this.s.self, peer: this.id, address: this.addressNow, code: grpc.status[st.code], reason, wasConnected };
    if (wasConnected) this.s.logger.warn(fields, 'peer stream closed');
    else if (this.lastError !== this.lastLoggedError) this.s.logger.warn(fields, 'peer stream failed');
    else this.s.logger.debug(fields, 'peer stream failed again');
    this.lastLoggedError = this.lastError;
    this.s.handlers.onUnreachable?.(this.id);
    if (wasConnected) this.s.handlers.onPeerDisconnected?.(this.id, { direction: 'outgoing', abrupt, reason });
    this.scheduleReconnect();
  }

  /** The peer is reachable again (it opened a stream to us): retry now instead of after the back-off. */
  reconnectNow(): void {
    if (this.closed || !this.reconnectTimer) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.backoff.reset();
    this.flush();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delayMs = this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      // Lazy: reopen only when there is something to send.
      this.flush();
    }, delayMs);
  }

  // ---------------------------------------------------------------- snapshots

  /** Send a MsgSnap through SendSnapshot; one transfer at a time, a newer one replaces a waiting one. */
  sendSnapshot(m: Message): void {
    if (this.closed) return;
    if (this.snapshotCall) {
      if (this.snapshotPending) this.finishSnapshot(this.snapshotPending, false, 'superseded by a newer snapshot');
      this.snapshotPending = m;
      return;
    }
    void this.streamSnapshot(m);
  }

  private async streamSnapshot(m: Message): Promise<void> {
    const snap = m.snapshot!;
    const data = snap.data;
    const total = data.length;
    let settled = false;
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const call = this.client.SendSnapshot(
      new grpc.Metadata(),
      { deadline: Date.now() + this.s.snapshotTimeoutMs },
      (err, ack) => {
        settled = true;
        resolveDone();
        this.snapshotCall = undefined;
        if (err) this.finishSnapshot(m, false, `${grpc.status[err.code]}: ${err.details}`);
        else if (ack?.received_bytes !== total) this.finishSnapshot(m, false, `receiver got ${ack?.received_bytes} of ${total} bytes`);
        else this.finishSnapshot(m, true, '');
        const next = this.snapshotPending;
        this.snapshotPending = undefined;
        if (next && !this.closed) void this.streamSnapshot(next);
      },
    );
    this.snapshotCall = call;
    call.on('error', () => {}); // the callback reports the status
    this.s.logger.info({ node: this.s.self, peer: this.id, index: snap.meta.index, term: snap.meta.term, sizeBytes: total }, 'sending snapshot');
    const hash = createHash('sha256');
    const chunkBytes = this.s.snapshotChunkBytes;
    let offset = 0;
    for (;;) {
      const piece = data.subarray(offset, Math.min(total, offset + chunkBytes));
      hash.update(piece);
      const last = offset + piece.length >= total;
      const chunk: WireSnapshotChunk = {
        cluster_id: this.s.clusterId,
        from: this.s.self,
        to: this.id,
        message: offset === 0 ? messageToWire(m, false) : null,
        total_bytes: total,
        offset,
        data: piece,
        last,
        sha256: last ? hash.digest() : EMPTY,
      };
      offset += piece.length;
      if (!call.write(chunk)) {
        await Promise.race([new Promise((resolve) => call.once('drain', resolve)), done]);
      }
      if (settled || last) break;
    }
    if (!settled) call.end();
  }

  private finishSnapshot(m: Message, ok: boolean, reason: string): void {
    const fields = { node: this.s.self, peer: this.id, index: m.snapshot?.meta.index, term: m.snapshot?.meta.term };
    if (ok) {
      this.snapshotsSent++;
      this.s.logger.info(fields, 'snapshot sent');
    } else {
      this.snapshotsFailed++;
      this.recordError(`snapshot at index ${m.snapshot?.meta.index} to ${this.id}: ${reason}`);
    }
    if (!this.closed) this.s.handlers.onSnapshotStatus?.(this.id, ok);
  }

  // ---------------------------------------------------------------- lifecycle

  private recordError(message: string): void {
    this.errors++;
    this.lastError = message;
    this.s.logger.warn({ node: this.s.self, peer: this.id, address: this.addressNow, err: message }, 'peer transport error');
  }

  /** Point at a new address: the stream and connection are replaced, the queue kept. */
  setAddress(address: string): void {
    if (address === this.addressNow || this.closed) return;
    const old = this.client;
    const oldStream = this.stream;
    this.generation++;
    this.stream = undefined;
    this.connected = false;
    this.inflightBytes = 0;
    this.waitingDrain = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.backoff.reset();
    this.addressNow = address;
    this.client = this.s.newClient(address);
    oldStream?.cancel();
    old.close();
  }

  /** Stop: end the stream cleanly (cancel it after closeGraceMs), cancel a snapshot transfer, close the channel. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.queue.clear();
    this.snapshotPending = undefined;
    this.snapshotCall?.cancel();
    const stream = this.stream;
    if (stream) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          stream.cancel();
          resolve();
        }, this.s.closeGraceMs);
        stream.once('status', () => {
          clearTimeout(timer);
          resolve();
        });
        // Say goodbye, so the receiver does not take the half-close for a crash.
        stream.write({ cluster_id: this.s.clusterId, from: this.s.self, to: this.id, messages: [], closing: true });
        stream.end();
      });
    }
    this.stream = undefined;
    this.connected = false;
    this.client.close();
  }
}
