// The Services and Endpoints of every namespace, as this agent last heard of them: the proxy
// listens and balances from it, and pod start-up reads `servicesInNamespace` for the
// <NAME>_SERVICE_HOST/PORT env. Fed by list+watch reflectors (see reflector.ts); tests may
// drive the stores directly.
import type { Endpoints, Service } from '@bramble/api';
import type { ResourcesApi } from '@bramble/client';
import type { Logger } from 'pino';
import { Reflector, type ReflectorSink } from '../reflector.js';

type Named = { metadata: { namespace?: string; name?: string } };

export function objectKey(obj: Named): string {
  return `${obj.metadata.namespace ?? 'default'}/${obj.metadata.name ?? ''}`;
}

/** Objects by `namespace/name`; every change calls the listeners (synchronously). */
export class ObjectStore<T extends Named> implements ReflectorSink<T> {
  private readonly items = new Map<string, T>();

  constructor(private readonly changed: () => void) {}

  replaceAll(items: T[]): void {
    this.items.clear();
    for (const item of items) this.items.set(objectKey(item), item);
    this.changed();
  }

  upsert(item: T): void {
    this.items.set(objectKey(item), item);
    this.changed();
  }

  remove(item: T): void {
    if (this.items.delete(objectKey(item))) this.changed();
  }

  get(namespace: string, name: string): T | undefined {
    return this.items.get(`${namespace}/${name}`);
  }

  all(): T[] {
    return [...this.items.values()];
  }

  get size(): number {
    return this.items.size;
  }
}

export interface ServiceCacheOptions {
  /** Without it the cache is fed only through its stores (tests). */
  resources?: ResourcesApi;
  logger?: Logger;
  /** Watch Endpoints too (the proxy needs them; service env does not). Default true. */
  endpoints?: boolean;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

/** What the proxy reads. */
export interface ServiceSource {
  services(): Service[];
  endpoints(namespace: string, name: string): Endpoints | undefined;
  /** Called after every change; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}

export class ServiceCache implements ServiceSource {
  private readonly listeners = new Set<() => void>();
  private readonly notify = (): void => {
    for (const listener of this.listeners) listener();
  };
  readonly serviceStore = new ObjectStore<Service>(this.notify);
  readonly endpointsStore = new ObjectStore<Endpoints>(this.notify);
  private readonly reflectors: Array<Reflector<'Service'> | Reflector<'Endpoints'>> = [];
  private readonly syncWaiters = new Set<() => void>();

  constructor(private readonly o: ServiceCacheOptions = {}) {
    if (!o.resources || !o.logger) return;
    const common = { resources: o.resources, logger: o.logger, retryInitialMs: o.retryInitialMs, retryMaxMs: o.retryMaxMs };
    this.reflectors.push(new Reflector({ ...common, kind: 'Service', sink: this.serviceStore }));
    if (o.endpoints ?? true) this.reflectors.push(new Reflector({ ...common, kind: 'Endpoints', sink: this.endpointsStore }));
    this.onChange(() => {
      if (!this.synced) return;
      for (const resolve of [...this.syncWaiters]) resolve();
    });
  }

  start(): void {
    for (const r of this.reflectors) r.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.reflectors.map((r) => r.stop()));
    for (const resolve of [...this.syncWaiters]) resolve();
  }

  /** Every watched kind has been listed at least once (always true for a store-fed cache). */
  get synced(): boolean {
    return this.reflectors.every((r) => r.lists > 0);
  }

  /** Resolves to `synced` once synced, or when `timeoutMs` passes, or on stop. */
  async whenSynced(timeoutMs: number): Promise<boolean> {
    if (this.synced) return true;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.syncWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.syncWaiters.add(done);
    });
    return this.synced;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  services(): Service[] {
    return this.serviceStore.all();
  }

  /** The Services of one namespace, by name (for <NAME>_SERVICE_HOST/PORT env). */
  servicesInNamespace(namespace: string): Service[] {
    return this.serviceStore
      .all()
      .filter((s) => (s.metadata.namespace ?? 'default') === namespace)
      .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  }

  service(namespace: string, name: string): Service | undefined {
    return this.serviceStore.get(namespace, name);
  }

  endpoints(namespace: string, name: string): Endpoints | undefined {
    return this.endpointsStore.get(namespace, name);
  }
}
