// The agent's service proxy: Services + Endpoints mirrored from the masters, and a TCP
// listener per service port on the node's address.
export { ServiceCache, ObjectStore, objectKey, type ServiceCacheOptions, type ServiceSource } from './service-cache.js';
export { ServiceProxy, DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS, type ServiceProxyOptions, type ProxyMetrics } from './tcp-proxy.js';
export { ProxyEventRecorder, FAILED_TO_LISTEN, type ProxyEventSink } from './events.js';
export { listenPlan, backendsFor, isProxied, type Backend, type ListenTarget, type ServicePortRef } from './plan.js';
export { Reflector, type ReflectorSink } from '../reflector.js';
