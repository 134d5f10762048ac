import { inInterval, keyInterval, type KeyInterval } from './keys.js';
import type { KeyVersion } from './history.js';
import type { KeyValue, WatchEvent, WatchSink } from './types.js';

/** One key change made by an applied command, in sub-revision order. */
export interface Change {
  key: string;
  version: KeyVersion;
  /** The key's live version before the change, if any. */
  prev: KeyVersion | undefined;
}

export function toWatchEvent(key: string, v: KeyVersion, prev: KeyVersion | undefined, withPrev: boolean): WatchEvent {
  const kv: KeyValue = v.isTombstone
    ? { key, value: '', createRevision: 0, modRevision: v.modRevision, version: 0, lease: 0 }
    : v.toKeyValue(key);
  const event: WatchEvent = { type: v.isTombstone ? 'delete' : 'put', kv };
  if (withPrev && prev !== undefined) event.prevKv = prev.toKeyValue(key);
  return event;
}

/**
 * A live watch. The store calls its sink synchronously, once per revision with
 * matching events; every revision >= the start revision is delivered exactly
 * once, in order, until `cancel()`.
 */
export class Watcher {
  /** @internal The key interval watched. */
  readonly interval: KeyInterval;
  /** @internal The next revision this watcher has not seen yet. */
  nextRevision: number;
  private reason: string | undefined;

  constructor(
    readonly id: number,
    readonly key: string,
    readonly rangeEnd: string | undefined,
    readonly prevKv: boolean,
    startRevision: number,
    /** @internal */ readonly sink: WatchSink,
    private readonly onCancel: (w: Watcher) => void,
  ) {
    this.interval = keyInterval(key, rangeEnd);
    this.nextRevision = startRevision;
  }

  get canceled(): boolean {
    return this.reason !== undefined;
  }

  /** Why the watcher stopped ("canceled", a buffer overflow, a sink that threw), or undefined while live. */
  get cancelReason(): string | undefined {
    return this.reason;
  }

  /** Stops delivery. Idempotent; the first reason wins. */
  cancel(reason = 'canceled'): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.onCancel(this);
  }

  matches(key: string): boolean {
    return inInterval(key, this.interval);
  }
}

/** The live watchers of one store and the delivery of each applied revision to them. */
export class WatcherSet {
  private readonly watchers = new Set<Watcher>();
  private nextId = 1;

  get size(): number {
    return this.watchers.size;
  }

  create(
    key: string,
    rangeEnd: string | undefined,
    prevKv: boolean,
    startRevision: number,
    sink: WatchSink,
  ): Watcher {
    return new Watcher(this.nextId++, key, rangeEnd, prevKv, startRevision, sink, (w) => this.watchers.delete(w));
  }

  /** Starts live delivery to a watcher whose history replay is done. */
  add(w: Watcher): void {
    if (!w.canceled) this.watchers.add(w);
  }

  /**
   * Delivers the changes of `revision` (all made by one command) to every
   * matching watcher: one sink call per watcher. A sink that throws is
   * canceled with the error as its reason; the others still get the events.
   */
  dispatch(revision: number, changes: Change[]): void {
    if (this.watchers.size === 0) return;
    const bare: (WatchEvent | undefined)[] = new Array(changes.length);
    const full: (WatchEvent | undefined)[] = new Array(changes.length);
    for (const w of [...this.watchers]) {
      if (w.canceled || revision < w.nextRevision) continue;
      w.nextRevision = revision + 1;
      let events: WatchEvent[] | undefined;
      for (let i = 0; i < changes.length; i++) {
        const c = changes[i];
        if (!w.matches(c.key)) continue;
        const cache = w.prevKv ? full : bare;
        const ev = (cache[i] ??= toWatchEvent(c.key, c.version, c.prev, w.prevKv));
        (events ??= []).push(ev);
      }
      if (events === undefined) continue;
      try {
        w.sink(events);
      } catch (err) {
        w.cancel(`watch sink threw at revision ${revision}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
