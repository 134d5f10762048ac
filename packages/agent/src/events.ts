// Recording Events against pods (component `kubelet`). Best effort: a bounded number in
// flight, never retried, never blocking the sync loop.
import type { Pod } from '@bramble/api';
import type { ResourcesApi } from '@bramble/client';
import type { Logger } from 'pino';
import { errorMessage } from './errors.js';
import type { AgentMetrics } from './metrics.js';

export const MAX_EVENTS_IN_FLIGHT = 64;

export class EventRecorder {
  private inFlight = 0;

  constructor(
    private readonly resources: ResourcesApi,
    private readonly nodeName: string,
    private readonly logger: Logger,
    private readonly metrics: AgentMetrics,
  ) {}

  record(pod: Pod, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath?: string): void {
    if (this.inFlight >= MAX_EVENTS_IN_FLIGHT) {
      this.metrics.eventsDropped.inc();
      this.logger.debug({ pod: pod.metadata.name, reason }, 'too many events in flight, dropping one');
      return;
    }
    this.inFlight++;
    this.resources
      .recordEvent({
        involvedObject: {
          kind: 'Pod',
          apiVersion: 'v1',
          namespace: pod.metadata.namespace,
          name: pod.metadata.name ?? '',
          uid: pod.metadata.uid,
          ...(fieldPath ? { fieldPath } : {}),
        },
        type,
        reason,
        message,
        component: 'kubelet',
        timeMs: Date.now(),
      })
      .catch((err) => {
        this.metrics.eventsDropped.inc();
        this.logger.debug({ pod: pod.metadata.name, reason, err: errorMessage(err) }, 'recording an event failed');
      })
      .finally(() => {
        this.inFlight--;
      });
  }
}
