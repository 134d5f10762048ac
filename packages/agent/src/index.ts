/**
 * @bramble/agent: the worker agent. It joins the cluster, heartbeats to every master,
 * runs the pods bound to its node through a PodRuntime and reports their status,
 * and serves the Kubelet gRPC service (logs, stats).
 */
export { startAgent, type Agent, type AgentDeps } from './agent.js';
export { resolveAgentOptions, parseLabels, DEFAULT_KUBELET_PORT, DEFAULT_HEARTBEAT_INTERVAL_MS, type AgentOptions, type ResolvedAgentOptions } from './options.js';
export { JoinRejectedError, isTransient, isNodeUnknown } from './errors.js';
export { buildNode, kubeArch, agentVersion } from './node-info.js';
export { readCredential, saveCredential, credentialPath, CREDENTIAL_FILE } from './credential.js';
export { resolvePodEnv, envReferences, ConfigRefError, type ResolvedEnv } from './pod-env.js';
export { connectMasters, type MasterApis } from './masters.js';
export type { HeartbeatTarget } from './heartbeat.js';
export type * from './runtime/types.js';
export { podProcesses, killPodProcesses, AGENT_MARKER_ENV, type PodProcessInfo } from './runtime/index.js';
