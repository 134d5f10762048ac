// @bramble/sim: a deterministic simulator of a Bramble Raft cluster. See README.md.

export { runSeed, runSeeds, DEFAULT_STEPS, type SeedOptions, type SeedResult, type SeedStats, type RunSeedsOptions, type RunSeedsSummary } from './sim.js';
export type { Violation, ViolationKind } from './checker.js';
export { SafetyChecker } from './checker.js';
export { Cluster, SimNode, UNITS_PER_TICK, type NodeFactory, type RaftOptions, type CrashPoint } from './cluster.js';
export { Network, copyMessage, type NetworkOptions, type NetworkStats, type Envelope } from './network.js';
export { Clients, type ClientStats } from './clients.js';
export { KvStateMachine, encodeCommand, decodeCommand, type KvCommand } from './state-machine.js';
export { Prng } from './prng.js';
export { Trace } from './trace.js';
