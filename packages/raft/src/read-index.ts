import type { NodeId } from './types.js';

interface PendingRead {
  index: number;
  /** Who asked: the leader itself or a follower that forwarded the request. */
  from: NodeId;
  context: Uint8Array;
  acks: Set<NodeId>;
}

export function contextKey(context: Uint8Array): string {
  let s = '';
  for (let i = 0; i < context.length; i++) s += String.fromCharCode(context[i]);
  return s;
}

/**
 * ReadIndex reads waiting for a heartbeat round to confirm that the leader is still
 * the leader (Raft dissertation §6.4). Requests are confirmed in order: an ack for a
 * later request confirms every earlier one too.
 */
export class ReadOnly {
  private pending = new Map<string, PendingRead>();
  private queue: string[] = [];

  add(index: number, context: Uint8Array, from: NodeId): void {
    const key = contextKey(context);
    if (this.pending.has(key)) return;
    this.pending.set(key, { index, from, context, acks: new Set() });
    this.queue.push(key);
  }

  /** Record `id`'s heartbeat ack of `context`; returns everyone who acked it so far. */
  recvAck(id: NodeId, context: Uint8Array): Set<NodeId> | undefined {
    const read = this.pending.get(contextKey(context));
    if (!read) return undefined;
    read.acks.add(id);
    return read.acks;
  }

  /** Release the request with `context` and every request queued before it. */
  advance(context: Uint8Array): PendingRead[] {
    const key = contextKey(context);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const released = this.queue.splice(0, at + 1).map((k) => this.pending.get(k)!);
    for (const k of released) this.pending.delete(contextKey(k.context));
    return released;
  }

  lastPendingContext(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.pending.get(key)!.context;
  }

  get size(): number {
    return this.queue.length;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
