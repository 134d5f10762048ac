export { startMaster, bootstrapEntries, type Master } from './master.js';
export { DEFAULT_MASTER_OPTIONS, parsePeers, parseHostPort, type MasterOptions } from './options.js';
export { RaftHost, HostError } from './raft-host.js';
export { MasterStateMachine, type MemberInfo } from './state-machine.js';
export { Metrics } from './metrics.js';
export { VERSION } from './cluster-service.js';
export * from './resources/index.js';
