// The pods bound to this node, mirrored from the API by a Reflector with the node's field selector.
import type { Pod } from '@bramble/api';
import type { ResourcesApi } from '@bramble/client';
import type { Logger } from 'pino';
import { Reflector, type ReflectorSink } from './reflector.js';

export type PodSink = ReflectorSink<Pod>;

export interface PodSourceOptions {
  resources: ResourcesApi;
  nodeName: string;
  sink: PodSink;
  logger: Logger;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export class PodSource {
  private readonly reflector: Reflector<'Pod'>;

  constructor(private readonly o: PodSourceOptions) {
    this.reflector = new Reflector({
      kind: 'Pod',
      fieldSelector: this.fieldSelector,
      resources: o.resources,
      sink: o.sink,
      logger: o.logger,
      duringOutage: 'pods keep running',
      retryInitialMs: o.retryInitialMs,
      retryMaxMs: o.retryMaxMs,
    });
  }

  get fieldSelector(): string {
    return `spec.nodeName=${this.o.nodeName}`;
  }

  /** Completed (re-)lists so far. */
  get lists(): number {
    return this.reflector.lists;
  }

  start(): void {
    this.reflector.start();
  }

  stop(): Promise<void> {
    return this.reflector.stop();
  }
}
