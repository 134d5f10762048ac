// The pods bound to this node, from the API: list, then watch from the list's revision;
// a broken watch resumes from the last revision seen; an expired one (Gone) re-lists.
import { isApiError, type Pod } from '@bramble/api';
import { isBrambleError, type ResourcesApi, type ResourceWatchEvent, type ResourceWatchHandle } from '@bramble/client';
import { Backoff } from '@bramble/transport';
import type { Logger } from 'pino';
import { errorMessage } from './errors.js';
import { sleep } from './sleep.js';

export interface PodSink {
  replaceAll(pods: Pod[]): void;
  upsert(pod: Pod): void;
  remove(pod: Pod): void;
}

export interface PodSourceOptions {
  resources: ResourcesApi;
  nodeName: string;
  sink: PodSink;
  logger: Logger;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

function isExpired(err: unknown): boolean {
  return isApiError(err, 'Gone') || isApiError(err, 'Expired') || (isBrambleError(err) && err.code === 'COMPACTED');
}

export class PodSource {
  private readonly abort = new AbortController();
  private handle: ResourceWatchHandle | undefined;
  private loop: Promise<void> | undefined;
  private listsDone = 0;

  constructor(private readonly o: PodSourceOptions) {}

  get fieldSelector(): string {
    return `spec.nodeName=${this.o.nodeName}`;
  }

  /** Completed (re-)lists so far. */
  get lists(): number {
    return this.listsDone;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.handle?.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const backoff = new Backoff({ initialMs: this.o.retryInitialMs ?? 200, maxMs: this.o.retryMaxMs ?? 5_000, random: Math.random });
    let resourceVersion: string | undefined;
    let failures = 0;
    const failed = async (what: string, err: unknown): Promise<void> => {
      failures++;
      // Once per outage at warn: the masters being away is logged, not shouted every second.
      if (failures === 1) this.o.logger.warn({ err: errorMessage(err) }, `${what} failed; pods keep running, retrying`);
      else this.o.logger.debug({ failures, err: errorMessage(err) }, `${what} failed again`);
      await sleep(backoff.next(), signal);
    };
    while (!signal.aborted) {
      if (resourceVersion === undefined) {
        try {
          const list = await this.o.resources.list('Pod', { fieldSelector: this.fieldSelector });
          if (signal.aborted) return;
          this.o.sink.replaceAll(list.items);
          this.listsDone++;
          resourceVersion = list.resourceVersion;
          if (failures > 0) this.o.logger.info({ failures, pods: list.items.length }, 'pod list works again');
          failures = 0;
          backoff.reset();
        } catch (err) {
          await failed('listing pods', err);
          continue;
        }
      }
      let delivered = false;
      const onEvent = (event: ResourceWatchEvent<Pod>): void => {
        if (signal.aborted) return;
        const pod = event.object;
        if (pod.metadata?.resourceVersion) resourceVersion = pod.metadata.resourceVersion;
        if (!delivered) {
          delivered = true;
          failures = 0;
          backoff.reset();
        }
        if (event.type === 'ADDED' || event.type === 'MODIFIED') this.o.sink.upsert(pod);
        else if (event.type === 'DELETED') this.o.sink.remove(pod);
      };
      let handle: ResourceWatchHandle;
      try {
        handle = this.o.resources.watch('Pod', { fieldSelector: this.fieldSelector, resourceVersion }, onEvent);
      } catch (err) {
        await failed('watching pods', err); // e.g. the client is closing
        continue;
      }
      this.handle = handle;
      const err = await handle.done;
      this.handle = undefined;
      if (signal.aborted) return;
      if (isExpired(err)) {
        this.o.logger.info({ resourceVersion, err: errorMessage(err) }, 'pod watch expired, re-listing');
        resourceVersion = undefined;
        // Expired again before a single event: do not spin list -> watch -> Gone.
        if (!delivered) await sleep(backoff.next(), signal);
        continue;
      }
      await failed('watching pods', err ?? new Error('watch ended'));
    }
  }
}
