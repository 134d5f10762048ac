// Tells the pod manager when a ConfigMap or Secret changed (any namespace), so a pod
// waiting for one starts as soon as it exists and configMap/secret volumes follow updates
// within moments, without polling. Started on first need only: an agent whose pods refer
// to no ConfigMap or Secret opens no such watch. One Reflector per kind: its (re-)lists
// report every current object, so nothing changed while the watch was down is missed.
import type { Resource } from '@bramble/api';
import type { ResourcesApi } from '@bramble/client';
import type { Logger } from 'pino';
import { Reflector, type ReflectorSink } from './reflector.js';

export type ConfigKind = 'ConfigMap' | 'Secret';

export interface ConfigWatchOptions {
  resources: ResourcesApi;
  logger: Logger;
  onChange(kind: ConfigKind, namespace: string, name: string): void;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export class ConfigWatch {
  private reflectors: Array<Reflector<ConfigKind>> | undefined;
  private stopped = false;

  constructor(private readonly o: ConfigWatchOptions) {}

  get started(): boolean {
    return this.reflectors !== undefined;
  }

  /** Idempotent. */
  start(): void {
    if (this.reflectors || this.stopped) return;
    this.reflectors = (['ConfigMap', 'Secret'] as const).map(
      (kind) =>
        new Reflector<ConfigKind>({
          kind,
          resources: this.o.resources,
          sink: this.notifier(kind),
          logger: this.o.logger,
          duringOutage: 'pods waiting for it still retry on their own',
          retryInitialMs: this.o.retryInitialMs,
          retryMaxMs: this.o.retryMaxMs,
        }),
    );
    for (const r of this.reflectors) r.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all((this.reflectors ?? []).map((r) => r.stop()));
  }

  /** Every object seen (listed, added, changed or deleted) is a change to report. */
  private notifier(kind: ConfigKind): ReflectorSink<Resource> {
    const changed = (obj: Resource): void => this.o.onChange(kind, obj.metadata.namespace ?? 'default', obj.metadata.name ?? '');
    return { replaceAll: (items) => items.forEach(changed), upsert: changed, remove: changed };
  }
}
