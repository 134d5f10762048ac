export { ProcessCluster, REPO_ROOT, BRAMBLE_BIN, type MemberProcess, type ProcessClusterOptions } from './process-cluster.js';
export { RawClient, prefixEnd, type Reply } from './grpc-client.js';
export { RawWatch, type RawWatchOptions, type RecordedEvent } from './raw-watch.js';
export { freePort, waitFor } from './ports.js';
