// One Nodes.HeartbeatStream call: the agent writes a heartbeat per interval, the master answers
// each in order. This wraps the raw grpc duplex call; re-opening and falling back to unary calls
// are the agent's policy, not the client's.
import * as grpc from '@grpc/grpc-js';
import { BrambleError, cleanDetails, fromServiceError, isServiceError } from './errors.js';
import { apiErrorFromStatus } from './resources.js';
import type { HeartbeatStreamHandle, HeartbeatStreamListener } from './resources-types.js';
import type { Wire } from './wire.js';

type DuplexCall = grpc.ClientDuplexStream<Wire, Wire>;

/** Codes that say the connection or the master failed, not the heartbeat: never read as an API verdict. */
const TRANSPORT_CODES = new Set<number>([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED]);

export class HeartbeatStream implements HeartbeatStreamHandle {
  private ended = false;
  private readonly call: DuplexCall;

  constructor(
    client: grpc.Client,
    metadata: grpc.Metadata,
    readonly endpoint: string,
    private readonly nodeName: string,
    private readonly listener: HeartbeatStreamListener,
  ) {
    this.call = (client as unknown as { HeartbeatStream(md: grpc.Metadata): DuplexCall }).HeartbeatStream(metadata);
    this.call.on('data', (w: Wire) => {
      if (!this.ended) this.listener.onResponse({ leader: w.leader === true });
    });
    this.call.on('error', (err: Error) => this.finish(this.toError(err)));
    this.call.on('status', (s: grpc.StatusObject) => {
      // 'error' reports every non-OK status; OK means the master closed the stream (shutting down).
      if (s.code === grpc.status.OK) {
        this.finish(new BrambleError({ operation: this.operation, code: 'UNAVAILABLE', details: 'the master ended the heartbeat stream', endpoint: this.endpoint }));
      }
    });
  }

  private get operation(): string {
    return `heartbeat stream of node ${JSON.stringify(this.nodeName)}`;
  }

  send(credential: string): void {
    if (this.ended) throw new BrambleError({ operation: this.operation, code: 'CANCELLED', details: 'the heartbeat stream has ended', endpoint: this.endpoint });
    this.call.write({ node_name: this.nodeName, credential });
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.call.end();
    } catch {
      // Already broken; cancel() releases it.
    }
    this.call.cancel();
  }

  /** The error as the unary Heartbeat would reject with it: ApiError when the master sent one, else a BrambleError. */
  private toError(err: Error): Error {
    if (!isServiceError(err)) return new BrambleError({ operation: this.operation, code: 'UNKNOWN', details: cleanDetails(err.message), endpoint: this.endpoint });
    if (!TRANSPORT_CODES.has(err.code)) {
      const api = apiErrorFromStatus(err);
      if (api) return api;
    }
    return fromServiceError(this.operation, this.endpoint, err);
  }

  private finish(err: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.listener.onEnd(err);
  }
}
