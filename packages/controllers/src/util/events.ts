/** A small helper that turns a controller's decisions into EventRecords. */
import type { ObjectMeta, ObjectReference } from '@bramble/api';
import { NotLeaderError, type ControllerClient, type EventRecord } from '../client.js';

/** Deferred events written per `recordEvents` call (one store txn each). */
export const EVENT_BATCH_SIZE = 256;

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
   * Queues an event without writing it, like Kubernetes' event broadcaster: the write
   * that caused it does not wait for its event. `settle()` writes the queued ones.
   */
  defer(obj: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.deferred.push(this.recordFor(obj, type, reason, message));
  }

  /**
   * Writes the deferred events as batches (one `recordEvents` call, one store write, per
   * EVENT_BATCH_SIZE); throws the first error among them (e.g. leadership lost) once all were tried.
   */
  async settle(): Promise<void> {
    const records = this.deferred.splice(0);
    let failure: unknown;
    for (let i = 0; i < records.length; i += EVENT_BATCH_SIZE) {
      try {
        await this.client.recordEvents(records.slice(i, i + EVENT_BATCH_SIZE));
      } catch (err) {
        failure ??= err;
        if (err instanceof NotLeaderError) break; // every further batch would be refused too
      }
    }
    if (failure !== undefined) throw failure;
  }

  private readonly deferred: EventRecord[] = [];

  private record(obj: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    return this.client.recordEvent(this.recordFor(obj, type, reason, message));
  }

  private recordFor(obj: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string): EventRecord {
    return { involvedObject: objectReference(obj), type, reason, message, component: this.component, timeMs: this.nowMs };
  }
}
