/** A small helper that turns a controller's decisions into EventRecords. */
import type { ObjectMeta, ObjectReference } from '@bramble/api';
import type { ControllerClient } from '../client.js';

export interface EventSubject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
}

export function objectReference(obj: EventSubject): ObjectReference {
  const ref: ObjectReference = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name };
  if (obj.metadata.namespace !== undefined) ref.namespace = obj.metadata.namespace;
  if (obj.metadata.uid !== undefined) ref.uid = obj.metadata.uid;
  if (obj.metadata.resourceVersion !== undefined) ref.resourceVersion = obj.metadata.resourceVersion;
  return ref;
}

export class EventRecorder {
  constructor(
    private readonly client: ControllerClient,
    readonly component: string,
    private readonly nowMs: number,
  ) {}

  normal(obj: EventSubject, reason: string, message: string): Promise<void> {
    return this.record(obj, 'Normal', reason, message);
  }

  warning(obj: EventSubject, reason: string, message: string): Promise<void> {
    return this.record(obj, 'Warning', reason, message);
  }

  /**
   * Records an event without waiting for it, like Kubernetes' event broadcaster: the write
   * that caused it does not wait for its event. `settle()` waits for every deferred one.
   */
  defer(obj: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const write = this.record(obj, type, reason, message);
    write.catch(() => undefined); // reported by settle(), never an unhandled rejection
    this.deferred.push(write);
  }

  /** Waits for the deferred events; throws the first error among them (e.g. leadership lost). */
  async settle(): Promise<void> {
    const writes = this.deferred.splice(0);
    const results = await Promise.allSettled(writes);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private readonly deferred: Array<Promise<void>> = [];

  private record(obj: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    return this.client.recordEvent({ involvedObject: objectReference(obj), type, reason, message, component: this.component, timeMs: this.nowMs });
  }
}
