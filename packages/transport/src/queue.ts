// The bounded outgoing queue of one peer.
import { MessageType, type Message } from '@bramble/raft';
import { messageSizeBytes } from './codec.js';

/**
 * Messages Raft resends on its own when they are lost: appends are retried from
 * the follower's progress, heartbeats come every heartbeat tick.
 */
export function isDroppable(m: Message): boolean {
  return m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.HeartbeatResp;
}

interface Item {
  m: Message;
  sizeBytes: number;
}

export interface QueueLimits {
  maxBytes: number;
  maxMessages: number;
}

/**
 * A FIFO of messages bounded by bytes and by count. When a push would exceed a
 * bound, the oldest droppable messages (MsgApp, heartbeats) go first; if that is
 * not enough, the oldest messages of any type. Raft tolerates the loss of any
 * message (a dropped proposal or read request times out at its client), and
 * memory never grows past the bounds.
 *
 * Dropping from the middle leaves a hole; `dropScan` only moves forward, so
 * finding the next droppable message is amortized O(1).
 */
export class BoundedMessageQueue {
  private items: (Item | undefined)[] = [];
  private head = 0;
  /** Index from which to look for the next droppable message; nothing droppable lies in [head, dropScan). */
  private dropScan = 0;
  private anyScan = 0;
  private count = 0;
  private bytes = 0;
  /** Messages dropped to stay within bounds, since creation. */
  dropped = 0;
  droppedBytes = 0;

  constructor(private readonly limits: QueueLimits) {}

  get length(): number {
    return this.count;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  /** Append `m`; returns how many older messages were dropped to make room. */
  push(m: Message, sizeBytes: number = messageSizeBytes(m)): number {
    this.items.push({ m, sizeBytes });
    this.count++;
    this.bytes += sizeBytes;
    let dropped = 0;
    while (this.count > 1 && (this.bytes > this.limits.maxBytes || this.count > this.limits.maxMessages)) {
      if (!this.dropOldest(true) && !this.dropOldest(false)) break;
      dropped++;
    }
    return dropped;
  }

  /** Remove and return the oldest message, or undefined when empty. */
  shift(): Item | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head];
      this.items[this.head] = undefined;
      this.head++;
      if (item) {
        this.count--;
        this.bytes -= item.sizeBytes;
        this.maybeCompact();
        return item;
      }
    }
    this.maybeCompact();
    return undefined;
  }

  /** Size of the oldest message, or undefined when empty. */
  peekSizeBytes(): number | undefined {
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i];
      if (item) return item.sizeBytes;
    }
    return undefined;
  }

  clear(): void {
    this.items = [];
    this.head = this.dropScan = this.anyScan = 0;
    this.count = this.bytes = 0;
  }

  /** Drop the oldest (droppable, or any) message except the newest one. */
  private dropOldest(droppableOnly: boolean): boolean {
    const last = this.items.length - 1;
    let i = Math.max(this.head, droppableOnly ? this.dropScan : this.anyScan);
    for (; i < last; i++) {
      const item = this.items[i];
      if (item && (!droppableOnly || isDroppable(item.m))) break;
    }
    if (droppableOnly) this.dropScan = i;
    else this.anyScan = i;
    if (i >= last) return false;
    const item = this.items[i]!;
    this.items[i] = undefined;
    this.count--;
    this.bytes -= item.sizeBytes;
    this.dropped++;
    this.droppedBytes += item.sizeBytes;
    return true;
  }

  private maybeCompact(): void {
    if (this.count === 0) {
      this.items.length = 0;
      this.head = this.dropScan = this.anyScan = 0;
      return;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.dropScan = Math.max(0, this.dropScan - this.head);
      this.anyScan = Math.max(0, this.anyScan - this.head);
      this.head = 0;
    }
  }
}
