export { KvStore, INITIAL_REVISION } from './store.js';
export { KvError, type KvErrorCode } from './errors.js';
export { prefixEnd } from './keys.js';
export { Watcher } from './watch.js';
export { WatchBuffer, type WatchBufferOptions } from './watch-buffer.js';
export { LeaseClock, type LeaseClockOptions } from './lease-clock.js';
export { SNAPSHOT_FORMAT, SNAPSHOT_VERSION } from './snapshot.js';
export type * from './types.js';
