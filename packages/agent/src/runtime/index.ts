export type { PodRuntime, PodSpecToRun, PodRuntimeStatus, RuntimeEvent, ContainerUsage, PodUsage, LogOptions } from './types.js';
export { ProcessRuntime } from './process-runtime.js';
export type { ProcessRuntimeOptions, RuntimeLogger } from './options.js';
export { expandVars } from './expand.js';
export { AGENT_MARKER_ENV, POD_UID_ENV, portEnvName } from './env.js';
export { STATE_FILE } from './state-store.js';
export { podProcesses, killPodProcesses, type PodProcessInfo } from './pod-processes.js';
