import { KvError, KvStore, type KvCommand, type KvErrorCode, type WatchEvent } from '../src/index.js';

export function put(key: string, value: string, extra: Partial<Extract<KvCommand, { type: 'put' }>> = {}): KvCommand {
  return { type: 'put', key, value, ...extra };
}

/** Runs `fn`, expects a KvError with `code`, returns its message. */
export function expectKvError(fn: () => unknown, code: KvErrorCode): string {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof KvError)) throw new Error(`expected KvError ${code}, got ${String(err)}`);
    if (err.code !== code) throw new Error(`expected KvError ${code}, got ${err.code}: ${err.message}`);
    return err.message;
  }
  throw new Error(`expected KvError ${code}, nothing was thrown`);
}

/** Applies a command that must fail and checks the store did not change at all. */
export function expectRefused(store: KvStore, cmd: KvCommand, code: KvErrorCode): string {
  const hash = store.hash();
  const revision = store.revision;
  const stats = store.stats();
  const msg = expectKvError(() => store.apply(cmd), code);
  if (store.hash() !== hash || store.revision !== revision) throw new Error(`refused ${cmd.type} changed the store`);
  if (JSON.stringify(store.stats()) !== JSON.stringify(stats)) throw new Error(`refused ${cmd.type} changed the stats`);
  return msg;
}

/** A watch sink that records every call. */
export function recorder(): { calls: WatchEvent[][]; sink: (events: WatchEvent[]) => void; flat: () => WatchEvent[] } {
  const calls: WatchEvent[][] = [];
  return { calls, sink: (events) => calls.push(events), flat: () => calls.flat() };
}

export function keys(store: KvStore, key: string, rangeEnd?: string, revision?: number): string[] {
  return store.range({ key, rangeEnd, revision }).kvs.map((kv) => kv.key);
}
