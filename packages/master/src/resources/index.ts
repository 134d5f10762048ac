export { ResourceStore, DEFAULT_NAMESPACE_NAME, EVENT_AGGREGATION_WINDOW_MS, EVENT_TTL_MS, type ResourceStoreOptions, type DeleteOutcome, type StoreWatchOptions, type StoreWatch } from './store.js';
export { KvStoreBackend, RaftBackend, UnavailableError, type ResourceBackend, type TxnOutcome, type BackendWatch, type BackendWatchHandlers } from './backend.js';
export { ResourcesService, type ResourcesServiceOptions } from './service.js';
export { API_ERROR_TRAILER, RETRY_SAFE_TRAILER, toGrpcStatus } from './errors.js';
export type { ResourceEvent, ResourceEventType } from './watch.js';
