// One kind mirrored from the API (every namespace, optionally narrowed by selectors): list, then
// watch from the list's revision; a broken watch resumes from the last revision seen (the client
// fails over between masters); an expired one (Gone) re-lists and replaces the whole set. While
// the masters are away the sink keeps what it last had. Used for the node's pods (pod-source.ts)
// and the proxy's Services and Endpoints.
import { isApiError, type KindName, type ResourceKinds } from '@bramble/api';
import { isBrambleError, type ResourcesApi, type ResourceWatchEvent, type ResourceWatchHandle } from '@bramble/client';
import { Backoff } from '@bramble/transport';
import type { Logger } from 'pino';
import { errorMessage } from './errors.js';
import { sleep } from './sleep.js';

export interface ReflectorSink<T> {
  replaceAll(items: T[]): void;
  upsert(item: T): void;
  remove(item: T): void;
}

export interface ReflectorOptions<K extends KindName> {
  kind: K;
  resources: ResourcesApi;
  /** Narrows the list and the watch (e.g. the node's pods: `spec.nodeName=node1`). */
  fieldSelector?: string;
  sink: ReflectorSink<ResourceKinds[K]>;
  logger: Logger;
  /** Said once per outage, after "listing Pod failed; ". Default: keeping the last known set. */
  duringOutage?: string;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

function isExpired(err: unknown): boolean {
  return isApiError(err, 'Gone') || isApiError(err, 'Expired') || (isBrambleError(err) && err.code === 'COMPACTED');
}

export class Reflector<K extends KindName> {
  private readonly abort = new AbortController();
  private handle: ResourceWatchHandle | undefined;
  private loop: Promise<void> | undefined;
  private listsDone = 0;

  constructor(private readonly o: ReflectorOptions<K>) {}

  /** Completed (re-)lists so far; > 0 once the sink holds a full picture. */
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

  private selectors(): { fieldSelector?: string } {
    return this.o.fieldSelector === undefined ? {} : { fieldSelector: this.o.fieldSelector };
  }

  private async run(): Promise<void> {
    const { kind, logger } = this.o;
    const signal = this.abort.signal;
    const backoff = new Backoff({ initialMs: this.o.retryInitialMs ?? 200, maxMs: this.o.retryMaxMs ?? 5_000, random: Math.random });
    let resourceVersion: string | undefined;
    let failures = 0;
    const failed = async (what: string, err: unknown): Promise<void> => {
      failures++;
      // Once per outage at warn: the masters being away is logged, not shouted every second.
      if (failures === 1) logger.warn({ kind, err: errorMessage(err) }, `${what} failed; ${this.o.duringOutage ?? 'keeping the last known set'}, retrying`);
      else logger.debug({ kind, failures, err: errorMessage(err) }, `${what} failed again`);
      await sleep(backoff.next(), signal);
    };
    while (!signal.aborted) {
      if (resourceVersion === undefined) {
        try {
          const list = await this.o.resources.list(kind, this.selectors());
          if (signal.aborted) return;
          this.listsDone++; // before the sink's listeners run, so they see the cache synced
          this.o.sink.replaceAll(list.items);
          resourceVersion = list.resourceVersion;
          if (failures > 0) logger.info({ kind, failures, items: list.items.length }, 'list works again');
          failures = 0;
          backoff.reset();
        } catch (err) {
          await failed(`listing ${kind}`, err);
          continue;
        }
      }
      let delivered = false;
      const onEvent = (event: ResourceWatchEvent<ResourceKinds[K]>): void => {
        if (signal.aborted) return;
        const obj = event.object;
        if (obj.metadata?.resourceVersion) resourceVersion = obj.metadata.resourceVersion;
        if (!delivered) {
          delivered = true;
          failures = 0;
          backoff.reset();
        }
        if (event.type === 'ADDED' || event.type === 'MODIFIED') this.o.sink.upsert(obj);
        else if (event.type === 'DELETED') this.o.sink.remove(obj);
      };
      let handle: ResourceWatchHandle;
      try {
        handle = this.o.resources.watch(kind, { ...this.selectors(), resourceVersion }, onEvent);
      } catch (err) {
        await failed(`watching ${kind}`, err); // e.g. the client is closing
        continue;
      }
      this.handle = handle;
      const err = await handle.done;
      this.handle = undefined;
      if (signal.aborted) return;
      if (isExpired(err)) {
        logger.info({ kind, resourceVersion, err: errorMessage(err) }, 'watch expired, re-listing');
        resourceVersion = undefined;
        // Expired again before a single event: do not spin list -> watch -> Gone.
        if (!delivered) await sleep(backoff.next(), signal);
        continue;
      }
      await failed(`watching ${kind}`, err ?? new Error('watch ended'));
    }
  }
}
