// Writing pod.status: only when it changed, a bounded number of writes in flight, a Conflict
// answered by re-reading the pod, masters that cannot answer retried with back-off.
import { isApiError, type Pod, type PodStatus } from '@bramble/api';
import type { ResourcesApi } from '@bramble/client';
import type { Logger } from 'pino';
import { errorMessage, isTransient } from './errors.js';
import type { AgentMetrics } from './metrics.js';
import { statusKey } from './pod-status.js';

/** What the status of a pod should be now, with the pod as last seen; undefined = nothing to write. */
export type DesiredStatus = (uid: string) => { pod: Pod; status: PodStatus } | undefined;

export interface StatusWriterOptions {
  resources: ResourcesApi;
  desired: DesiredStatus;
  /** A newer version of a pod, read or written here. */
  observe: (pod: Pod) => void;
  /** After a write: the status now stored. */
  onWritten?: (pod: Pod) => void;
  concurrency: number;
  /**
   * A pod's first status is held back up to this long while `isStarting` says it is still
   * starting (Pending, containers being created): a container that starts within it costs
   * one write (Running) instead of two. 0 writes at once.
   */
  firstWriteHoldMs?: number;
  isStarting?: (status: PodStatus) => boolean;
  logger: Logger;
  metrics: AgentMetrics;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

const MAX_CONFLICT_RETRIES = 5;

interface Written {
  desired: string;
  stored: string;
}

export class StatusWriter {
  /** Insertion-ordered: the pods waiting for a write. */
  private readonly queue = new Set<string>();
  private readonly inFlight = new Set<string>();
  private readonly again = new Set<string>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  /** The last retry delay of pods whose writes keep failing. */
  private readonly retryDelayMs = new Map<string, number>();
  private readonly written = new Map<string, Written>();
  /** Pods whose first write is being held back (see firstWriteHoldMs). */
  private readonly holdTimers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly o: StatusWriterOptions) {}

  /** The status of `uid` may have changed: write it if it did. */
  markDirty(uid: string): void {
    if (this.stopped) return;
    if (this.holdFirstWrite(uid)) return;
    this.enqueue(uid);
  }

  /** True while the pod's first write waits for it to finish starting (a timer writes it at the latest). */
  private holdFirstWrite(uid: string): boolean {
    const holdMs = this.o.firstWriteHoldMs ?? 0;
    const held = this.holdTimers.get(uid);
    const want = holdMs > 0 && !this.written.has(uid) ? this.o.desired(uid) : undefined;
    if (want && this.o.isStarting?.(want.status)) {
      if (held === undefined) {
        this.holdTimers.set(
          uid,
          setTimeout(() => {
            this.holdTimers.delete(uid);
            this.enqueue(uid);
          }, holdMs),
        );
      }
      return true;
    }
    if (held !== undefined) {
      clearTimeout(held);
      this.holdTimers.delete(uid);
    }
    return false;
  }

  private enqueue(uid: string): void {
    if (this.stopped) return;
    if (this.inFlight.has(uid)) {
      this.again.add(uid);
      return;
    }
    this.queue.add(uid);
    this.pump();
  }

  forget(uid: string): void {
    this.queue.delete(uid);
    this.again.delete(uid);
    this.written.delete(uid);
    clearTimeout(this.holdTimers.get(uid));
    this.holdTimers.delete(uid);
    clearTimeout(this.retryTimers.get(uid));
    this.retryTimers.delete(uid);
    this.retryDelayMs.delete(uid);
  }

  stop(): void {
    this.stopped = true;
    for (const t of [...this.retryTimers.values(), ...this.holdTimers.values()]) clearTimeout(t);
    this.retryTimers.clear();
    this.holdTimers.clear();
    this.queue.clear();
  }

  /** Writes held, queued or in flight (tests wait for zero). */
  get pending(): number {
    return this.holdTimers.size + this.queue.size + this.inFlight.size;
  }

  private pump(): void {
    while (!this.stopped && this.inFlight.size < this.o.concurrency && this.queue.size > 0) {
      const uid = this.queue.values().next().value as string;
      this.queue.delete(uid);
      this.inFlight.add(uid);
      void this.write(uid).finally(() => {
        this.inFlight.delete(uid);
        if (this.again.delete(uid)) this.queue.add(uid);
        this.pump();
      });
    }
  }

  /** True when the pod already shows `status`, or shows what the server made of the same status we wrote. */
  private upToDate(uid: string, pod: Pod, desiredKey: string): boolean {
    const current = statusKey(pod.status);
    if (current === desiredKey) return true;
    const w = this.written.get(uid);
    return w !== undefined && w.desired === desiredKey && w.stored === current;
  }

  private async write(uid: string): Promise<void> {
    for (let attempt = 0; attempt <= MAX_CONFLICT_RETRIES && !this.stopped; attempt++) {
      const want = this.o.desired(uid);
      if (!want) return;
      const desiredKey = statusKey(want.status);
      if (this.upToDate(uid, want.pod, desiredKey)) return;
      const { namespace, name } = want.pod.metadata;
      try {
        const stored = await this.o.resources.updateStatus<Pod>({ ...want.pod, status: want.status });
        this.o.metrics.statusWrites.inc();
        this.written.set(uid, { desired: desiredKey, stored: statusKey(stored.status) });
        this.retryDelayMs.delete(uid);
        this.o.observe(stored);
        this.o.onWritten?.(stored);
        return;
      } catch (err) {
        if (isApiError(err, 'Conflict')) {
          this.o.metrics.statusConflicts.inc();
          try {
            const fresh = await this.o.resources.get('Pod', namespace, name ?? '');
            if (fresh.metadata.uid !== uid) return; // a new pod took the name: ours is gone
            this.o.observe(fresh);
          } catch (getErr) {
            if (isApiError(getErr, 'NotFound')) return;
            this.retryLater(uid, getErr);
            return;
          }
          continue;
        }
        if (isApiError(err, 'NotFound')) return;
        if (isTransient(err)) {
          this.retryLater(uid, err);
          return;
        }
        this.o.logger.error({ pod: `${namespace}/${name}`, err: errorMessage(err) }, 'writing pod status failed');
        return;
      }
    }
    if (!this.stopped) this.retryLater(uid, new Error(`still conflicting after ${MAX_CONFLICT_RETRIES} re-reads`));
  }

  private retryLater(uid: string, err: unknown): void {
    if (this.stopped) return;
    const prevMs = this.retryDelayMs.get(uid);
    const delayMs = prevMs === undefined ? (this.o.retryInitialMs ?? 200) : Math.min(prevMs * 2, this.o.retryMaxMs ?? 5_000);
    this.retryDelayMs.set(uid, delayMs);
    if (prevMs === undefined) this.o.logger.debug({ uid, delayMs, err: errorMessage(err) }, 'pod status write postponed');
    clearTimeout(this.retryTimers.get(uid));
    this.retryTimers.set(
      uid,
      setTimeout(() => {
        this.retryTimers.delete(uid);
        this.enqueue(uid);
      }, delayMs),
    );
  }
}
