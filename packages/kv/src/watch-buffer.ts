import { KvError } from './errors.js';
import type { WatchEvent, WatchSink } from './types.js';
import type { Watcher } from './watch.js';

export interface WatchBufferOptions {
  /** Most events held before the consumer pulls; beyond it the buffer is cut off. */
  maxPendingEvents: number;
}

/**
 * Bounded queue between a synchronous watch sink and an asynchronous consumer
 * (a gRPC stream). Holds whole revisions (one batch per sink call). When a
 * push would take it past `maxPendingEvents`, it drops everything pending,
 * closes with a `slow_watcher` error and cancels its watcher: a slow consumer
 * is cut off, never allowed to grow memory without limit. The consumer has
 * received every revision before `resumeRevision` and re-watches from there.
 *
 * One batch larger than the bound is still accepted into an empty buffer,
 * otherwise a single big revision (a lease revoke of many keys) could never be
 * delivered; the events already exist in memory either way.
 */
export class WatchBuffer {
  readonly maxPendingEvents: number;
  /** Pass to `KvStore.watch`. */
  readonly sink: WatchSink = (events) => this.push(events);
  private batches: WatchEvent[][] = [];
  private pending = 0;
  private isClosed = false;
  private failure: KvError | undefined;
  private resumeAt: number | undefined;
  private watcher: Watcher | undefined;
  private waiters: (() => void)[] = [];

  constructor(opts: WatchBufferOptions) {
    if (!Number.isSafeInteger(opts.maxPendingEvents) || opts.maxPendingEvents < 1) {
      throw new KvError('invalid', `maxPendingEvents: must be an integer >= 1 (got ${String(opts.maxPendingEvents)})`);
    }
    this.maxPendingEvents = opts.maxPendingEvents;
  }

  /** Ties the buffer to its watcher: closing the buffer cancels the watcher. */
  attach(watcher: Watcher): void {
    this.watcher = watcher;
    if (this.isClosed) watcher.cancel(this.failure?.message ?? 'watch buffer closed');
  }

  get pendingEvents(): number {
    return this.pending;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** The overflow error, once cut off. */
  get error(): KvError | undefined {
    return this.failure;
  }

  /** After an overflow: the first revision the consumer did not receive. */
  get resumeRevision(): number | undefined {
    return this.resumeAt;
  }

  push(events: WatchEvent[]): void {
    if (this.isClosed || events.length === 0) return;
    if (this.pending > 0 && this.pending + events.length > this.maxPendingEvents) {
      const resume = this.batches[0][0].kv.modRevision;
      this.resumeAt = resume;
      this.failure = new KvError(
        'slow_watcher',
        `slow watcher: more than ${this.maxPendingEvents} events pending, cut off; re-watch from revision ${resume}`,
      );
      this.batches = [];
      this.pending = 0;
      this.close();
      return;
    }
    this.batches.push(events);
    this.pending += events.length;
    this.wake();
  }

  /** Takes every pending batch (one per revision, oldest first). */
  pull(): WatchEvent[][] {
    const out = this.batches;
    this.batches = [];
    this.pending = 0;
    return out;
  }

  /** Resolves once there is something to pull or the buffer is closed. */
  wait(): Promise<void> {
    if (this.pending > 0 || this.isClosed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stops the buffer (and its watcher). Pending batches can still be pulled. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.watcher?.cancel(this.failure?.message ?? 'watch buffer closed');
    this.wake();
  }

  /** Batches until closed; throws the slow_watcher error if cut off. */
  async *[Symbol.asyncIterator](): AsyncGenerator<WatchEvent[], void, undefined> {
    for (;;) {
      for (const batch of this.pull()) yield batch;
      if (this.failure !== undefined) throw this.failure;
      if (this.isClosed) return;
      await this.wait();
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
