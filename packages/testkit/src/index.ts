export { ProcessCluster, REPO_ROOT, BRAMBLE_BIN, BRAMBLE_AGENT_BIN, type MemberProcess, type ProcessClusterOptions } from './process-cluster.js';
export { RawClient, prefixEnd, type Reply } from './grpc-client.js';
export { RawWatch, type RawWatchOptions, type RecordedEvent } from './raw-watch.js';
export { freePort, waitFor } from './ports.js';
/** gRPC status codes, for tests that live outside a package depending on @grpc/grpc-js. */
export { status as grpcStatus } from '@grpc/grpc-js';
export { OrchestratorCluster, newJoinToken, type AgentProcess, type AgentOptions, type OrchestratorClusterOptions } from './orchestrator-cluster.js';
// The agent owns the environment marker its pod processes carry; cleanup goes through it.
export { podProcesses, killPodProcesses, AGENT_MARKER_ENV as POD_MARKER_ENV, type PodProcessInfo } from '@bramble/agent';
