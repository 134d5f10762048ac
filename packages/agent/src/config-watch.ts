// Tells the pod manager when a ConfigMap or Secret changed (any namespace), so a pod
// waiting for one starts as soon as it exists and configMap/secret volumes follow updates
// within moments, without polling. Started on first need only: an agent whose pods refer
// to no ConfigMap or Secret opens no such watch. Each (re)start of a watch asks for the
// current objects first (sendInitialEvents), so nothing changed while it was down is missed.
import type { ResourcesApi, ResourceWatchHandle } from '@bramble/client';
import { Backoff } from '@bramble/transport';
import type { Logger } from 'pino';
import { errorMessage } from './errors.js';
import { sleep } from './sleep.js';

export type ConfigKind = 'ConfigMap' | 'Secret';

export interface ConfigWatchOptions {
  resources: ResourcesApi;
  logger: Logger;
  onChange(kind: ConfigKind, namespace: string, name: string): void;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export class ConfigWatch {
  private readonly abort = new AbortController();
  private readonly handles = new Set<ResourceWatchHandle>();
  private loops: Promise<void>[] | undefined;

  constructor(private readonly o: ConfigWatchOptions) {}

  get started(): boolean {
    return this.loops !== undefined;
  }

  /** Idempotent. */
  start(): void {
    if (this.loops || this.abort.signal.aborted) return;
    this.loops = [this.run('ConfigMap'), this.run('Secret')];
  }

  async stop(): Promise<void> {
    this.abort.abort();
    for (const h of this.handles) h.close();
    await Promise.all(this.loops ?? []);
  }

  private async run(kind: ConfigKind): Promise<void> {
    const signal = this.abort.signal;
    const backoff = new Backoff({ initialMs: this.o.retryInitialMs ?? 200, maxMs: this.o.retryMaxMs ?? 5_000, random: Math.random });
    let failures = 0;
    while (!signal.aborted) {
      let delivered = false;
      let handle: ResourceWatchHandle;
      try {
        handle = this.o.resources.watch(kind, { sendInitialEvents: true }, (event) => {
          if (signal.aborted) return;
          if (!delivered) {
            delivered = true;
            failures = 0;
            backoff.reset();
          }
          if (event.type === 'BOOKMARK') return;
          const m = event.object.metadata;
          this.o.onChange(kind, m.namespace ?? 'default', m.name ?? '');
        });
      } catch (err) {
        handle = { close() {}, done: Promise.resolve(err instanceof Error ? err : new Error(String(err))) };
      }
      this.handles.add(handle);
      const err = await handle.done;
      this.handles.delete(handle);
      if (signal.aborted) return;
      failures++;
      const why = errorMessage(err ?? new Error('watch ended'));
      if (failures === 1) this.o.logger.warn({ kind, err: why }, 'config watch ended; retrying (pods waiting for it still retry on their own)');
      else this.o.logger.debug({ kind, failures, err: why }, 'config watch failed again');
      await sleep(backoff.next(), signal);
    }
  }
}
