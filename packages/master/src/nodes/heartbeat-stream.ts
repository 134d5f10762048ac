/**
 * Nodes.HeartbeatStream: the unary Heartbeat over one long-lived stream per agent. Each message
 * goes through the same registrar check as a unary call (credential, Node exists) and is
 * answered in order; the first refused one ends the stream with the status the unary call
 * would have returned, so the agent learns at once that it must rejoin or is an impostor.
 */
import * as grpc from '@grpc/grpc-js';
import { ApiError } from '@bramble/api';
import { nodeServiceStatus } from './errors.js';
import type { NodeRegistrar } from './registrar.js';

type Wire = Record<string, unknown>;
type HeartbeatCall = grpc.ServerDuplexStream<Wire, Wire>;

/**
 * Heartbeats queued unanswered on one stream before it is cut off. An agent sends one per
 * interval and waits for the answer, so only a misbehaving client ever gets near this.
 */
export const MAX_QUEUED_HEARTBEATS = 16;

export interface HeartbeatStreamsOptions {
  registrar: Pick<NodeRegistrar, 'heartbeat'>;
  /** Whether this master is the Raft leader right now. */
  isLeader(): boolean;
}

export class HeartbeatStreams {
  /** The end functions of the open streams. */
  private readonly open = new Set<(err?: unknown) => void>();
  private closedReason: string | undefined;

  constructor(private readonly o: HeartbeatStreamsOptions) {}

  /** Open streams right now. */
  get size(): number {
    return this.open.size;
  }

  /** Ends every open stream with UNAVAILABLE and refuses new ones (the master is stopping). */
  closeAll(reason: string): void {
    this.closedReason = reason;
    for (const end of [...this.open]) end(new ApiError('ServiceUnavailable', reason));
  }

  serve(call: HeartbeatCall): void {
    if (this.closedReason !== undefined) {
      call.emit('error', nodeServiceStatus(new ApiError('ServiceUnavailable', this.closedReason)));
      return;
    }
    let ended = false;
    let queued = 0;
    let chain: Promise<void> = Promise.resolve();
    const end = (err?: unknown): void => {
      if (ended) return;
      ended = true;
      this.open.delete(end);
      if (err === undefined) call.end();
      else call.emit('error', nodeServiceStatus(err));
    };
    this.open.add(end);

    call.on('data', (req: Wire) => {
      if (ended) return;
      if (++queued > MAX_QUEUED_HEARTBEATS) {
        end(new ApiError('TooManyRequests', `more than ${MAX_QUEUED_HEARTBEATS} heartbeats sent without waiting for the answers`));
        return;
      }
      // One at a time, in order: answers pair with requests.
      chain = chain.then(async () => {
        queued--;
        if (ended) return;
        try {
          await this.o.registrar.heartbeat(str(req.node_name), str(req.credential));
          if (!ended) call.write({ leader: this.o.isLeader() });
        } catch (err) {
          end(err);
        }
      });
    });
    // The agent half-closed: answer what is queued, then close our side.
    call.on('end', () => {
      void chain.then(() => end());
    });
    const gone = (): void => {
      ended = true;
      this.open.delete(end);
    };
    call.on('cancelled', gone);
    call.on('close', gone);
    call.on('error', gone);
  }
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
